"""train-ner: LoRA-tune (or fully fine-tune) GLiNER2 on the NER split (params: seed, ner.* except ner.base).

Base: models/base/ner (build-base-ner). Outputs: models/ner/final (LoRA) or models/ner/best (full run),
metrics/train/ner.json, training curves in metrics/train/ner_live.
"""

from dvclive import Live

from medtune.config import load_params
from medtune.console import console, setup_logging
from medtune.io import write_json
from medtune.ner.data import read_ner_rows
from medtune.ner.schema import load_schema
from medtune.ner.settings import ner_settings
from medtune.ner.train import train_ner

BASE = "models/base/ner"
SCHEMA = "configs/entity_schema.yaml"
SPLIT = "data/split/ner"
OUTPUT = "models/ner"
METRICS = "metrics/train/ner.json"
LIVE_DIR = "metrics/train/ner_live"


def main() -> None:
    setup_logging()
    settings, lora = ner_settings(load_params())
    train_rows = read_ner_rows(f"{SPLIT}/train.jsonl")
    eval_rows = read_ner_rows(f"{SPLIT}/val.jsonl")
    with Live(dir=LIVE_DIR, dvcyaml=None, save_dvc_exp=False, report=None) as live:
        summary = train_ner(train_rows, BASE, OUTPUT, load_schema(SCHEMA), settings, lora, eval_rows, live=live)
    write_json(METRICS, summary)
    console.print(f"[green]train-ner[/] {OUTPUT}: {summary}")


if __name__ == "__main__":
    main()
