"""Stage build-base: the tiny local Llama base model of the offline profile -> models/base/tiny-lm.

Reads params `seed`, `tiny_lm`, `data.tasks`; reads only data/split/<task>/train.jsonl (never val/test)."""

from medtune.config import TinyLMSettings, from_mapping, load_params, section
from medtune.console import setup_logging
from medtune.io import write_json
from medtune.train.base_lm import build_base
from medtune.train.callbacks import quiet_library_output


def main() -> None:
    setup_logging()
    quiet_library_output()
    params = load_params()
    settings = from_mapping(TinyLMSettings, params.get("tiny_lm"), where="tiny_lm")
    metrics = build_base("data/split", "models/base/tiny-lm", settings, seed=params["seed"], tasks=section(params, "data.tasks"))
    write_json("metrics/train/base.json", metrics)


if __name__ == "__main__":
    main()
