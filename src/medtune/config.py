"""One source of truth for settings: dataclasses filled from `params.yaml` *or* CLI flags.

Each params block (`lora`, `train`, `ner`, ...) is a dataclass. A field's `metadata` names its CLI flag
(seed 000's names: `--lora-rank`, `--learning-rate`, ...), so `medtune train cot --lora-rank 32` and
`dvc exp run -S lora.r=32` set the same field and no flag is defined twice.

Per-task overrides: `params.yaml` may hold `<task>: {lora: {...}, train: {...}}`; `task_settings()` lays
them over the shared `lora`/`train` blocks. That is the scoping rule the README documents: a task uses the
shared block unless it overrides a key.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

import yaml

PARAMS_FILE = Path(os.environ.get("MEDTUNE_PARAMS", "params.yaml"))


class ConfigError(ValueError):
    """A setting is missing, unknown or inconsistent; the message says which and where."""


def flag(name: str, help: str, **argparse_kwargs: Any) -> dict:
    """Metadata for a dataclass field: its CLI flag, help text and extra argparse options."""
    return {"flag": name, "help": help, "argparse": argparse_kwargs}


@dataclass
class LoraSettings:
    """LoRA adapter shape for the causal-LM tasks (params block `lora`, overridable per task)."""

    r: int = field(default=8, metadata=flag("--lora-rank", "LoRA rank"))
    alpha: int = field(default=16, metadata=flag("--lora-alpha", "LoRA scaling factor alpha"))
    dropout: float = field(default=0.05, metadata=flag("--lora-dropout", "dropout on the LoRA path"))
    target_modules: str = field(
        default="all-linear",
        metadata=flag(
            "--target-modules",
            "'all-linear', 'auto' (peft's built-in mapping) or a comma-separated suffix list such as q_proj,v_proj",
        ),
    )
    modules_to_save: str = field(
        default="",
        metadata=flag(
            "--modules-to-save",
            "comma-separated modules trained in full and saved with the adapter, e.g. lm_head when the base's output "
            "embeddings barely know the answer tokens (peft modules_to_save; tied embeddings stay tied)",
        ),
    )


@dataclass
class TrainSettings:
    """Optimisation and checkpointing for SFT (params block `train`, overridable per task)."""

    epochs: float = field(default=1.0, metadata=flag("--epochs", "training epochs"))
    learning_rate: float = field(default=2e-4, metadata=flag("--learning-rate", "peak learning rate"))
    batch_size: int = field(default=8, metadata=flag("--batch-size", "per-device batch size"))
    grad_accum: int = field(default=1, metadata=flag("--grad-accum", "gradient accumulation steps"))
    max_seq_len: int = field(default=512, metadata=flag("--max-seq-len", "maximum tokens per example"))
    warmup_ratio: float = field(default=0.05, metadata=flag("--warmup-ratio", "share of steps used for warmup"))
    scheduler: str = field(default="cosine", metadata=flag("--scheduler", "learning-rate schedule (transformers name)"))
    weight_decay: float = field(default=0.0, metadata=flag("--weight-decay", "AdamW weight decay"))
    optim: str = field(
        default="auto",
        metadata=flag("--optim", "optimizer: 'auto' (8-bit AdamW where bitsandbytes runs on CUDA, else adamw_torch) or a transformers name"),
    )
    eval_steps: int = field(default=500, metadata=flag("--eval-steps", "evaluate every N optimizer steps"))
    save_steps: int = field(default=500, metadata=flag("--save-steps", "checkpoint every N steps (a multiple of --eval-steps when evaluating)"))
    save_total_limit: int = field(default=2, metadata=flag("--save-total-limit", "checkpoints kept on disk"))
    early_stopping_patience: int = field(
        default=3, metadata=flag("--early-stopping-patience", "evaluations without eval-loss improvement before stopping (0 = off)")
    )
    keep_best: bool = field(
        default=True,
        metadata=flag("--keep-best", "with --eval-data, end on the checkpoint with the lowest eval loss; --no-keep-best keeps the "
                      "final weights (eval loss is still logged; needs --early-stopping-patience 0)", action=argparse.BooleanOptionalAction),
    )
    load_in_4bit: str = field(
        default="auto",
        metadata=flag("--no-4bit", "disable 4-bit (QLoRA) loading", action="store_const", const="false"),
    )
    dtype: str = field(
        default="auto",
        metadata=flag("--fp16", "train in fp16 instead of bf16 (GPU)", action="store_const", const="fp16"),
    )
    max_examples: int = field(default=0, metadata=flag("--max-examples", "use at most N training rows (0 = all)"))
    pseudo_names: float = field(
        default=0.0,
        metadata=flag("--pseudo-names", "share of training rows added again with their clinical names (chem-ner: the names its "
                      "answer lists) replaced by made-up ones (label-preserving; teaches matching over memorised names; "
                      "train/augment.py; 0 = off)"),
    )
    decision_weight: float = field(
        default=1.0,
        metadata=flag("--decision-weight", "loss weight of the answer tokens that carry the decision (cot: the reasoning after the "
                      "restated criterion, and the verdict); the rest of the answer keeps 1 (train/weighting.py; 1 = TRL's loss)"),
    )
    padding: str = field(
        default="auto",
        metadata=flag(
            "--padding",
            "batching: 'free' (rows flattened, no pad tokens; needs FlashAttention to pay off), 'longest' (length-grouped "
            "batches padded to their longest row) or 'auto' (free with CUDA + flash-attn, else longest)",
        ),
    )
    logging_steps: int = field(default=10, metadata=flag("--logging-steps", "log loss/accuracy every N steps"))
    seed: int = field(default=42, metadata=flag("--seed", "random seed"))
    launcher: str = field(
        default="python",
        metadata=flag("--launcher", "'python' (one process) or 'accelerate' (accelerate launch, config from --accelerate-config)"),
    )
    accelerate_config: str = field(
        default="ddp", metadata=flag("--accelerate-config", "configs/accelerate/<name>.yaml for --launcher accelerate (cpu-2proc, ddp, fsdp)")
    )


@dataclass
class SFTRunSettings:
    """Where one SFT run reads and writes: CLI flags only (the DVC stages fill these from fixed paths)."""

    base_model: str = field(default="", metadata=flag("--base-model", "base model: a local directory or a hub id (params: models.<task>)"))
    train_data: str = field(default="", metadata=flag("--train-data", "training JSONL (default: data/split/<task>/train.jsonl)"))
    eval_data: str = field(default="", metadata=flag("--eval-data", "evaluation JSONL; enables eval-loss checkpoint selection and early stopping"))
    output_dir: str = field(default="", metadata=flag("--output-dir", "adapter directory (default: models/<task>/adapter)"))
    resume: bool = field(
        default=False,
        metadata=flag(
            "--resume",
            "continue from the last checkpoint in <output-dir>/../checkpoints when its settings match",
            action="store_const",
            const=True,
        ),
    )


@dataclass
class TinyLMSettings:
    """The embedded tiny Llama base model built by `build-base` (params block `tiny_lm`)."""

    init: str = field(default="", metadata=flag("--init", "start from this pretrained tiny Llama (its tokenizer and weights; the shape keys "
                                                          "must match it) instead of a new tokenizer and random weights; '' = from scratch"))
    vocab_size: int = field(default=4096, metadata=flag("--vocab-size", "byte-level BPE vocabulary size"))
    hidden_size: int = field(default=192, metadata=flag("--hidden-size", "model width"))
    num_layers: int = field(default=4, metadata=flag("--num-layers", "decoder layers"))
    num_heads: int = field(default=6, metadata=flag("--num-heads", "attention heads (head_dim = hidden_size / num_heads)"))
    intermediate_size: int = field(default=512, metadata=flag("--intermediate-size", "MLP width"))
    max_position_embeddings: int = field(default=1024, metadata=flag("--max-positions", "longest sequence the model accepts"))
    block_size: int = field(default=256, metadata=flag("--block-size", "pretraining sequence length (texts are concatenated and chunked)"))
    chat_docs: int = field(default=4000, metadata=flag("--chat-docs", "self-supervised chat turns mixed into pretraining (0 = none)"))
    concept_docs: int = field(default=0, metadata=flag("--concept-docs", "self-supervised concept turns (synonyms from the sample lexicon) mixed into pretraining (0 = none)"))
    epochs: float = field(default=2.0, metadata=flag("--pretrain-epochs", "pretraining epochs over the unlabeled corpus"))
    max_steps: int = field(default=0, metadata=flag("--pretrain-max-steps", "stop pretraining after N steps (0 = no cap)"))
    batch_size: int = field(default=16, metadata=flag("--pretrain-batch-size", "pretraining batch size (blocks)"))
    learning_rate: float = field(default=2e-3, metadata=flag("--pretrain-learning-rate", "pretraining peak learning rate"))
    json_docs: int = field(default=400, metadata=flag("--json-docs", "label-free seed-001-shaped JSON documents mixed into pretraining (0 = none)"))
    probe_docs: int = field(default=0, metadata=flag("--probe-docs", "label-free dense matching documents (a text, then 8 'term: Yes|No' lines) mixed into pretraining (0 = none)"))
    probe_phrase_share: float = field(default=0.0, metadata=flag("--probe-phrase-share", "share of the probe documents' concept questions asked by a corpus sentence naming the concept instead of the bare term"))
    repeat_docs: int = field(default=0, metadata=flag("--repeat-docs", "label-free 'Text: X / Repeat: X' copying documents mixed into pretraining (0 = none)"))
    quote_docs: int = field(default=0, metadata=flag("--quote-docs", "self-supervised 'quote the sentence that mentions W' turns mixed into pretraining (0 = none)"))
    split_digits: bool = field(default=True, metadata=flag("--split-digits", "tokenize every digit on its own (as Llama/Gemma do), so number comparisons are learnable",
                                                                  action=argparse.BooleanOptionalAction))


@dataclass
class MergeSettings:
    """Adapter merging (params block `merge`; the paths are CLI-only, the stage fills them per task)."""

    dtype: str = field(default="fp32", metadata=flag("--dtype", "dtype of the merged model: fp32, bf16 or fp16"))
    check_prompts: int = field(default=4, metadata=flag("--check-prompts", "prompts used to compare merged vs base+adapter logits"))
    base_model: str = field(default="", metadata=flag("--base-model", "base model to merge into (default: the adapter's base_model_name_or_path)"))
    adapter: str = field(default="", metadata=flag("--adapter", "LoRA adapter directory"))
    output_dir: str = field(default="", metadata=flag("--output-dir", "where the merged model is written (default: <adapter>/../merged)"))


def params_key(task: str) -> str:
    """The params.yaml block (and `models.*` key) of a task: `chem-ner` -> `chem_ner`, so `-S chem_ner.train.epochs=2`
    needs no quoting; data folders keep the task name (`data/split/chem-ner`)."""
    return task.replace("-", "_")


def sft_settings(params: Mapping[str, Any], task: str) -> tuple[LoraSettings, TrainSettings]:
    """`task_settings` plus the top-level `seed` unless the train block sets its own: used by stages and CLI alike."""
    lora, train = task_settings(params, task)
    explicit_seed = "seed" in (params.get("train") or {}) or "seed" in ((params.get(params_key(task)) or {}).get("train") or {})
    if "seed" in params and not explicit_seed:
        train = from_mapping(TrainSettings, {**dataclasses.asdict(train), "seed": params["seed"]}, where="seed")
    return lora, train


def _field_type(f: dataclasses.Field) -> type:
    return {"int": int, "float": float, "str": str, "bool": bool}.get(str(f.type), str)


def from_mapping(cls: type, values: Mapping[str, Any] | None, where: str) -> Any:
    """Build dataclass `cls` from a params mapping; unknown keys are an error, not silently ignored."""
    values = dict(values or {})
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known: {sorted(known)}")
    kwargs = {}
    for name, value in values.items():
        wanted = _field_type(known[name])
        if wanted is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if wanted is float and isinstance(value, str):
            try:
                value = float(value)  # YAML reads "2e-4" (no dot) as a string
            except ValueError:
                pass
        if wanted is str and isinstance(value, bool):
            value = "true" if value else "false"  # YAML reads `load_in_4bit: true` as a bool; the field is tri-state
        if not isinstance(value, wanted) or (wanted is int and isinstance(value, bool)):
            raise ConfigError(f"{where}.{name}: expected {wanted.__name__}, got {value!r}")
        kwargs[name] = value
    return cls(**kwargs)


def merged(cls: type, *layers: Mapping[str, Any] | None, where: str) -> Any:
    """Dataclass from several mappings, later layers overriding earlier ones (shared block, then task block)."""
    combined: dict[str, Any] = {}
    for layer in layers:
        combined.update(layer or {})
    return from_mapping(cls, combined, where)


def load_params(path: Path | str | None = None) -> dict:
    path = Path(path or PARAMS_FILE)
    if not path.exists():
        raise ConfigError(f"{path}: params file not found (run from the repository root or set MEDTUNE_PARAMS)")
    with path.open() as fh:
        params = yaml.safe_load(fh) or {}
    if not isinstance(params, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return params


def section(params: Mapping[str, Any], dotted: str, default: Any = dataclasses.MISSING) -> Any:
    """`section(params, "data.split")` with an error naming the missing key."""
    node: Any = params
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            if default is not dataclasses.MISSING:
                return default
            raise ConfigError(f"params.yaml: missing key '{dotted}'")
        node = node[part]
    return node


def task_settings(params: Mapping[str, Any], task: str) -> tuple[LoraSettings, TrainSettings]:
    """LoRA and training settings of a causal-LM task: shared `lora`/`train` blocks + `<task>.lora/train` overrides."""
    key = params_key(task)
    task_block = params.get(key) or {}
    lora = merged(LoraSettings, params.get("lora"), task_block.get("lora"), where=f"{key}.lora")
    train = merged(TrainSettings, params.get("train"), task_block.get("train"), where=f"{key}.train")
    return lora, train


# The causal-LM (SFT) tasks and the paths their pipeline stages use.
SFT_TASKS = ("cot", "reranker", "qa", "endpoints", "chem-ner")
DEFAULT_BASE_DIR = "models/base/tiny-lm"


def default_run(params: Mapping[str, Any], task: str) -> SFTRunSettings:
    """The paths the pipeline uses for `task` (the DVC stage uses exactly these, with resume on)."""
    return SFTRunSettings(
        base_model=str(section(params, f"models.{params_key(task)}", DEFAULT_BASE_DIR)),
        train_data=f"data/split/{task}/train.jsonl",
        eval_data="",
        output_dir=f"models/{task}/adapter",
    )


# ---- CLI side: the same dataclasses become argparse flags -------------------------------------------


def add_flags(parser: argparse.ArgumentParser, cls: type, group_title: str | None = None) -> None:
    """Add one flag per field of `cls`; defaults are None so only flags the user typed override params."""
    target = parser.add_argument_group(group_title) if group_title else parser
    for f in fields(cls):
        meta = f.metadata
        if "flag" not in meta:
            continue
        extra = dict(meta.get("argparse", {}))
        dest = f"{cls.__name__}.{f.name}"
        if "action" not in extra:
            extra["type"] = _field_type(f)
            extra.setdefault("metavar", f.name.upper())
        shown = "" if f.default in ("", False) else f" (default: {f.default})"
        target.add_argument(meta["flag"], dest=dest, default=None, help=f"{meta['help']}{shown}", **extra)


def flag_overrides(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The fields of `cls` the user set on the command line, as a params-style mapping."""
    prefix = f"{cls.__name__}."
    return {k[len(prefix):]: v for k, v in vars(args).items() if k.startswith(prefix) and v is not None}


def with_overrides(settings: Any, overrides: Mapping[str, Any]) -> Any:
    if not overrides:
        return settings
    return from_mapping(type(settings), {**dataclasses.asdict(settings), **overrides}, where="command line")
