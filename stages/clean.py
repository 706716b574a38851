"""clean: validate + dedupe + quarantine every task (params: data.tasks, data.max_reject_fraction, data.entity_schema)."""

import sys

from medtune.config import load_params
from medtune.console import console
from medtune.data.clean import clean_tasks
from medtune.io import write_json

data = load_params()["data"]
counts = clean_tasks(data["tasks"], "data/raw", "data/clean", "data/quarantine", data["max_reject_fraction"], data["entity_schema"])
failures = counts.pop("_failures")
write_json("metrics/data.json", counts)
for task, c in counts.items():
    console.print(f"clean {task}: read {c['read']}, valid {c['valid']}, duplicates {c['duplicates']}, rejected {c['rejected']} {c['reasons']}")
if failures:
    console.print("[bold red]clean failed:[/] " + "\n  ".join(["too many rejected rows"] + failures))
    sys.exit(1)
