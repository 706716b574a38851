"""Stages train-cot / train-reranker: LoRA SFT of one chat task -> models/<task>/adapter.

Reads params `seed`, `lora`, `train`, `<task>`, `models.<task>`; trains on data/split/<task>/train.jsonl, picks the
best checkpoint by loss on val.jsonl. A killed run resumes from models/<task>/checkpoints on the next `dvc repro`."""

import argparse
import dataclasses

from medtune.config import SFT_TASKS, default_run, load_params, sft_settings
from medtune.console import setup_logging
from medtune.train.callbacks import quiet_library_output
from medtune.train.launch import relaunch_if_needed
from medtune.train.sft import train_sft


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--task", choices=SFT_TASKS, required=True)
    task = parser.parse_args().task
    setup_logging()
    quiet_library_output()
    params = load_params()
    lora, train = sft_settings(params, task)
    relaunch_if_needed(train, [__file__, "--task", task])  # train.launcher: accelerate -> accelerate launch (train/launch.py)
    run = dataclasses.replace(default_run(params, task), eval_data=f"data/split/{task}/val.jsonl", resume=True)
    train_sft(task, run, lora, train, metrics_path=f"metrics/train/{task}.json", live_dir=f"metrics/train/{task}")


if __name__ == "__main__":
    main()
