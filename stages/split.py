"""split: stratified, grouped train/val/test per task with a leakage assertion (params: data.tasks, data.split)."""

from medtune.config import load_params, section
from medtune.console import console
from medtune.data.split import split_file
from medtune.io import write_json

params = load_params()
ratios = {name: section(params, f"data.split.{name}") for name in ("train", "val", "test")}
seed, holdout_val_share = section(params, "data.split.seed"), section(params, "data.split.holdout_val_share")
reports = {task: split_file(task, f"data/clean/{task}.jsonl", f"data/split/{task}", ratios, seed, holdout_val_share)
           for task in section(params, "data.tasks")}
write_json("metrics/split.json", reports)
for task, r in reports.items():
    console.print(f"split {task}: {r['rows']} unseen share val {r.get('val_unseen_fraction', 'n/a')}, test {r.get('test_unseen_fraction', 'n/a')}")
