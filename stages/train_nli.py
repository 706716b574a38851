"""train-nli: fine-tune the NLI classifier (params: seed, models.nli, nli) → models/nli, metrics/train/nli.json."""

from medtune.config import load_params
from medtune.console import console, setup_logging
from medtune.io import write_json
from medtune.train.nli import nli_settings, train_nli

setup_logging()
settings, lora = nli_settings(load_params())
metrics = train_nli(
    settings,
    lora,
    train_path="data/split/nli/train.jsonl",
    val_path="data/split/nli/val.jsonl",
    out_dir="models/nli",
    live_dir="metrics/train/nli_live",
)
write_json("metrics/train/nli.json", metrics)
console.print(
    f"train-nli: val accuracy {metrics['val_accuracy']:.3f} after {metrics['train_steps']} steps "
    f"in {metrics['train_runtime_s']:.0f} s"
)
