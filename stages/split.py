"""split: stratified, grouped train/val/test per task with a leakage assertion (params: data.tasks, data.split)."""

from medtune.config import load_params
from medtune.console import console
from medtune.data.split import split_file
from medtune.io import write_json

data = load_params()["data"]
cfg = data["split"]
ratios = {name: cfg[name] for name in ("train", "val", "test")}
reports = {task: split_file(task, f"data/clean/{task}.jsonl", f"data/split/{task}", ratios, cfg["seed"], cfg["holdout_val_share"])
           for task in data["tasks"]}
write_json("metrics/split.json", reports)
for task, r in reports.items():
    console.print(f"split {task}: {r['rows']} unseen share val {r.get('val_unseen_fraction', 'n/a')}, test {r.get('test_unseen_fraction', 'n/a')}")
