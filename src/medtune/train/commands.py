"""`medtune build-base`, `medtune train cot|reranker|endpoints|chem-ner [flags]`, `medtune merge`.

Flags come from the settings dataclasses (`config.add_flags`), so `--lora-rank 32` and `-S lora.r=32` set the
same field. Values resolve as: dataclass default < params.yaml (shared block, then task block) < flags typed.
Heavy imports (torch, peft, transformers) stay inside the command bodies.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from medtune.config import (
    DEFAULT_BASE_DIR,
    SFT_TASKS,
    ConfigError,
    LoraSettings,
    MergeSettings,
    SFTRunSettings,
    TinyLMSettings,
    TrainSettings,
    add_flags,
    default_run,
    flag_overrides,
    params_key,
    from_mapping,
    load_params,
    sft_settings,
    with_overrides,
)


def _params(path: str | None) -> dict:
    """params.yaml when present (or named); the dataclass defaults otherwise."""
    if path or Path("params.yaml").exists():
        return load_params(path)
    return {}


def resolve_sft(args: argparse.Namespace, params: dict) -> tuple[SFTRunSettings, LoraSettings, TrainSettings]:
    lora, train = sft_settings(params, args.task)
    return (
        with_overrides(default_run(params, args.task), flag_overrides(args, SFTRunSettings)),
        with_overrides(lora, flag_overrides(args, LoraSettings)),
        with_overrides(train, flag_overrides(args, TrainSettings)),
    )


def _train(args: argparse.Namespace) -> int:
    from medtune.train.callbacks import quiet_library_output
    from medtune.train.launch import relaunch_if_needed
    from medtune.train.sft import train_sft

    run, lora, train = resolve_sft(args, _params(args.params))
    relaunch_if_needed(train, ["-m", "medtune.cli", *sys.argv[1:]])  # --launcher accelerate (train/launch.py)
    quiet_library_output()
    metrics = train_sft(args.task, run, lora, train, metrics_path=args.metrics)
    if metrics.get("rank", 0) == 0:  # one JSON on stdout, from rank 0, when several processes train
        json.dump(metrics, sys.stdout, indent=2)
        print()
    return 0


def _build_base(args: argparse.Namespace) -> int:
    from medtune.train.base_lm import build_base
    from medtune.train.callbacks import quiet_library_output

    params = _params(args.params)
    settings = with_overrides(from_mapping(TinyLMSettings, params.get("tiny_lm"), where="tiny_lm"), flag_overrides(args, TinyLMSettings))
    quiet_library_output()
    metrics = build_base(args.split_dir, args.output, settings, seed=int(params.get("seed", 42)))
    json.dump(metrics, sys.stdout, indent=2)
    print()
    return 0


def _merge(args: argparse.Namespace) -> int:
    from medtune.train.callbacks import quiet_library_output
    from medtune.train.merge import merge_adapter

    params = _params(args.params)
    settings = with_overrides(from_mapping(MergeSettings, params.get("merge"), where="merge"), flag_overrides(args, MergeSettings))
    if not settings.adapter:
        raise ConfigError("medtune merge: --adapter is required")
    quiet_library_output()
    json.dump(merge_adapter(settings), sys.stdout, indent=2)
    print()
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    base = subparsers.add_parser(
        "build-base",
        help="build the tiny local Llama base model (tokenizer + short pretraining) for the offline profile",
        description="Train a byte-level BPE tokenizer and a tiny Llama on the unlabeled text of data/split/*/train.jsonl.",
    )
    base.add_argument("--split-dir", default="data/split", help="folder with <task>/train.jsonl (default: data/split)")
    base.add_argument("--output", default=DEFAULT_BASE_DIR, help=f"model directory (default: {DEFAULT_BASE_DIR})")
    base.add_argument("--params", default=None, help="params file (default: params.yaml when present)")
    add_flags(base, TinyLMSettings, "model and pretraining (params block tiny_lm)")
    base.set_defaults(func=_build_base)

    train = subparsers.add_parser("train", help="fine-tune a LoRA adapter", description="Fine-tune a LoRA adapter for one task.")
    tasks = train.add_subparsers(dest="task", metavar="TASK", required=True)
    for task in SFT_TASKS:
        add_sft_task_parser(tasks, task)
    # The encoder tasks own their flags; their modules import torch/gliner2 only when the command runs.
    from medtune.ner.commands import add_ner_train_parser
    from medtune.train.nli import add_nli_train_parser

    add_ner_train_parser(tasks)
    add_nli_train_parser(tasks)

    merge = subparsers.add_parser(
        "merge",
        help="merge a LoRA adapter into its base model (checked against base+adapter logits)",
        description="Merge a LoRA adapter into its base; refuses a 4-bit base; verifies logits on fixed prompts.",
    )
    merge.add_argument("--params", default=None, help="params file (default: params.yaml when present)")
    add_flags(merge, MergeSettings)
    merge.set_defaults(func=_merge)


def add_sft_task_parser(tasks: argparse._SubParsersAction, task: str) -> None:
    """`medtune train <task>`: one parser per chat-style causal-LM task, all with the same flags."""
    parser = tasks.add_parser(
        task,
        help=f"LoRA SFT of the {task} model (TRL SFTTrainer, loss on the answer only)",
        description=(
            f"LoRA SFT for the {task} task. Settings: params.yaml `lora`, `train` and `{params_key(task)}:` overrides; "
            "flags override params. Checkpoints go next to the adapter; --resume continues a killed run."
        ),
    )
    parser.add_argument("--params", default=None, help="params file (default: params.yaml when present)")
    parser.add_argument("--metrics", default=None, help="also write the final metrics JSON to this file")
    add_flags(parser, SFTRunSettings, "data and output")
    add_flags(parser, LoraSettings, "LoRA")
    add_flags(parser, TrainSettings, "training")
    parser.set_defaults(func=_train, task=task)

