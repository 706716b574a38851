"""fetch: raw JSONL per task into data/raw/<task>/ (params: data.source, data.tasks, data.sample, data.zenodo, data.dir, data.files)."""

from medtune.config import load_params
from medtune.console import console, setup_logging
from medtune.data.fetch import fetch

setup_logging()
data = load_params()["data"]
result = fetch(data, seed=data["sample"]["seed"], out_dir="data/raw")
console.print(f"fetch ({result['source']}): generated {result['generated']} files {result['files']}")
