"""One LoRA SFT function for every chat-style causal-LM task (cot, reranker; endpoints, qa, chem-ner later).

load base (+4-bit) -> canonical rows -> prompt/completion examples (fitted to max_seq_len) -> TRL `SFTTrainer` with
a peft `LoraConfig` (loss on the completion only) -> adapter written atomically. Checkpoints go to a sibling
`checkpoints/` folder that a killed run resumes from when its settings fingerprint still matches.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import shutil
import time
from pathlib import Path

from medtune.config import ConfigError, LoraSettings, SFTRunSettings, TrainSettings
from medtune.io import atomic_path, read_jsonl, write_json
from medtune.ops.determinism import canonicalize_adapter_config
from medtune.train import models as model_utils
from medtune.train import weighting
from medtune.train.launch import is_main_process
from medtune.train.tasks import load_examples

log = logging.getLogger(__name__)

FINGERPRINT_FILE = "medtune-run.json"


def validate_schedule(train: TrainSettings, evaluating: bool) -> None:
    """Checked before any loading, so a bad combination fails in a second with a message naming both settings."""
    for name in ("eval_steps", "save_steps", "save_total_limit", "batch_size", "grad_accum", "max_seq_len", "logging_steps"):
        if getattr(train, name) < 1:
            raise ConfigError(f"train.{name} must be >= 1, got {getattr(train, name)}")
    if evaluating and train.save_steps % train.eval_steps:
        raise ConfigError(
            f"train.save_steps ({train.save_steps}, --save-steps) must be a multiple of train.eval_steps "
            f"({train.eval_steps}, --eval-steps) when evaluating (--eval-data): the best checkpoint is picked among "
            "evaluated steps"
        )
    weighting.validate_decision_weight(train.decision_weight)
    if train.early_stopping_patience < 0:
        raise ConfigError(f"train.early_stopping_patience must be >= 0, got {train.early_stopping_patience}")
    if evaluating and not train.keep_best and train.early_stopping_patience:
        raise ConfigError(
            f"train.keep_best: false (--no-keep-best) keeps the final weights, so early stopping (patience "
            f"{train.early_stopping_patience}) would end on a worse checkpoint than the best it skipped: set "
            "train.early_stopping_patience: 0 (--early-stopping-patience 0)"
        )


def checkpoint_dir_for(output_dir: Path) -> Path:
    """models/<task>/adapter -> models/<task>/checkpoints; any other name X -> X-checkpoints (never shared)."""
    return output_dir.parent / "checkpoints" if output_dir.name == "adapter" else output_dir.with_name(f"{output_dir.name}-checkpoints")


def _file_digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest() if path else ""


def _base_identity(base_model: str) -> list:
    """A local base changes identity when any of its files changes (size, mtime); a hub id is its own identity."""
    path = Path(base_model)
    if not path.is_dir():
        return [base_model]
    return [base_model] + sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in path.iterdir() if p.is_file())


def run_fingerprint(task: str, run: SFTRunSettings, lora: LoraSettings, train: TrainSettings) -> str:
    """What a checkpoint must share with the current run to be resumed (everything but the output location)."""
    payload = {
        "task": task,
        "base": _base_identity(run.base_model),
        "train_data": _file_digest(run.train_data),
        "eval_data": _file_digest(run.eval_data),
        "lora": dataclasses.asdict(lora),
        "train": dataclasses.asdict(train),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def last_complete_checkpoint(ckpt_dir: Path) -> str | None:
    """The newest checkpoint-N whose save finished (trainer_state.json is written last); a checkpoint cut short
    by a kill is deleted so the Trainer's own rotation never trips over it."""
    steps = sorted((int(p.name.rsplit("-", 1)[1]), p) for p in ckpt_dir.glob("checkpoint-*") if p.name.rsplit("-", 1)[1].isdigit())
    for _, path in reversed(steps):
        if (path / "trainer_state.json").exists():
            return str(path)
        log.warning("removing incomplete checkpoint %s (the run was killed while saving it)", path)
        shutil.rmtree(path, ignore_errors=True)
    return None


def prepare_checkpoints(ckpt_dir: Path, fingerprint: str, resume: bool) -> str | None:
    """The checkpoint to resume from, or None after clearing stale state for a fresh run."""
    marker = ckpt_dir / FINGERPRINT_FILE
    if resume and ckpt_dir.is_dir():
        saved = json.loads(marker.read_text()).get("fingerprint") if marker.exists() else None
        last = last_complete_checkpoint(ckpt_dir)
        if saved == fingerprint and last:
            log.info("resuming from %s", last)
            return last
        if saved != fingerprint and last:
            log.warning("%s was made with other settings or data: starting fresh", ckpt_dir)
        else:
            log.info("no checkpoint in %s yet: starting fresh", ckpt_dir)
    shutil.rmtree(ckpt_dir, ignore_errors=True)
    ckpt_dir.mkdir(parents=True)
    marker.write_text(json.dumps({"fingerprint": fingerprint}) + "\n")
    return None


def resume_point(ckpt_dir: Path, fingerprint: str, resume: bool) -> str | None:
    """What prepare_checkpoints chose, read-only (for the non-zero ranks of a distributed run, after rank 0)."""
    marker = ckpt_dir / FINGERPRINT_FILE
    if not resume or not marker.exists() or json.loads(marker.read_text()).get("fingerprint") != fingerprint:
        return None
    steps = sorted(int(p.parent.name.rsplit("-", 1)[1]) for p in ckpt_dir.glob("checkpoint-*/trainer_state.json"))
    return str(ckpt_dir / f"checkpoint-{steps[-1]}") if steps else None


@contextlib.contextmanager
def main_process_first():
    """accelerate's main_process_first in a distributed run (torch.distributed set up by the launcher); a no-op
    in a single process, which never initialises a process group."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        yield
        return
    from accelerate import PartialState

    with PartialState(cpu=not model_utils.cuda_available()).main_process_first():
        yield


def sft_config(train: TrainSettings, ckpt_dir: Path, evaluating: bool, dtype: str, load_in_4bit: bool, padding: str = "longest"):
    from trl import SFTConfig

    on_gpu = model_utils.cuda_available()
    optim = model_utils.resolve_optim(train.optim, load_in_4bit)
    return SFTConfig(
        output_dir=str(ckpt_dir),
        num_train_epochs=train.epochs,
        learning_rate=train.learning_rate,
        per_device_train_batch_size=train.batch_size,
        per_device_eval_batch_size=train.batch_size,
        gradient_accumulation_steps=train.grad_accum,
        lr_scheduler_type=train.scheduler,
        warmup_steps=train.warmup_ratio,  # a float in [0, 1) is a ratio of the total steps in transformers 5
        weight_decay=train.weight_decay,
        optim=optim,
        logging_steps=train.logging_steps,
        eval_strategy="steps" if evaluating else "no",
        eval_steps=train.eval_steps,
        save_strategy="steps",
        save_steps=train.save_steps,
        save_total_limit=train.save_total_limit,
        load_best_model_at_end=evaluating and train.keep_best,
        metric_for_best_model="eval_loss" if evaluating else None,
        greater_is_better=False if evaluating else None,
        # TRL turns bf16 and gradient checkpointing on by default; on this AVX2 CPU that is ~10x slower (FACTS.md).
        bf16=dtype == "bfloat16" and on_gpu,
        fp16=dtype == "float16",
        gradient_checkpointing=on_gpu,
        # Loss on the completion only: prompt tokens get label -100 (TRL prompt-completion format).
        completion_only_loss=True,
        # Rows are already fitted to max_seq_len (cut in the patient text, never in the prompt header), so TRL's
        # own keep-start truncation is off. Padding: see models.resolve_padding (free = flattened rows, no pad
        # tokens; longest = length-grouped batches, padded only to their longest row).
        max_length=None,
        padding_free=padding == "free",
        train_sampling_strategy="random" if padding == "free" else "group_by_length",
        seed=train.seed,
        data_seed=train.seed,
        full_determinism=True,
        dataloader_num_workers=0,
        report_to=[],
        disable_tqdm=True,
        use_cpu=not on_gpu,
        save_only_model=False,  # optimizer + scheduler + RNG states make a resumed run continue exactly
    )


def train_sft(
    task: str,
    run: SFTRunSettings,
    lora: LoraSettings,
    train: TrainSettings,
    metrics_path: Path | str | None = None,
    live_dir: Path | str | None = None,
) -> dict:
    """Train one LoRA adapter; returns (and writes to `metrics_path`) final losses, accuracies and data counts."""
    from datasets import Dataset
    from transformers import EarlyStoppingCallback
    from transformers.trainer_callback import PrinterCallback

    from medtune.train.callbacks import DvcLiveCallback, EvalLogCallback, quiet_library_output
    from medtune.train.progress import RichProgressCallback
    from medtune.train.sampling import seeded_sft_trainer

    quiet_library_output()
    if not run.train_data or not run.base_model or not run.output_dir:
        raise ConfigError("train_sft needs base_model, train_data and output_dir")
    evaluating = bool(run.eval_data)
    validate_schedule(train, evaluating)
    dtype = model_utils.resolve_dtype(train.dtype)
    load_in_4bit = model_utils.resolve_load_in_4bit(train.load_in_4bit)
    padding = model_utils.resolve_padding(train.padding)
    started = time.perf_counter()

    tokenizer = model_utils.load_tokenizer(run.base_model)
    train_set = load_examples(run.train_data, task, tokenizer, train.max_seq_len, train.max_examples,
                              pseudo_names=train.pseudo_names, seed=train.seed)
    eval_set = load_examples(run.eval_data, task, tokenizer, train.max_seq_len) if evaluating else None
    for name, loaded in (("train", train_set), ("eval", eval_set)):
        if loaded and (loaded.truncated or loaded.rejected):
            log.warning("%s %s: %d rows cut in the patient text, rejected %s (max_seq_len %d)",
                        task, name, loaded.truncated, dict(loaded.rejected) or "none", train.max_seq_len)

    output_dir = Path(run.output_dir)
    ckpt_dir = checkpoint_dir_for(output_dir)
    fingerprint = run_fingerprint(task, run, lora, train)
    main_process = is_main_process()
    with main_process_first():  # rank 0 clears or validates the checkpoints; the other ranks then only read them
        resume_from = prepare_checkpoints(ckpt_dir, fingerprint, run.resume) if main_process else resume_point(ckpt_dir, fingerprint, run.resume)

    model = model_utils.load_causal_lm(run.base_model, dtype, load_in_4bit, padding)
    if load_in_4bit:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=model_utils.cuda_available())
    callbacks = [RichProgressCallback(f"train {task}"), EvalLogCallback(f"train {task}")]
    if live_dir and main_process:
        callbacks.append(DvcLiveCallback(live_dir, resume=resume_from is not None, resume_step=_step_of(resume_from)))
    if evaluating and train.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=train.early_stopping_patience))
    weighted = train.decision_weight != 1 and any(e.weighted_spans for e in train_set.examples)
    if train.decision_weight != 1 and not weighted:
        log.warning("%s: train.decision_weight %s has no effect: no %s answer marks decision tokens", task, train.decision_weight, task)
    weight = train.decision_weight if weighted else 1.0

    def records(loaded):
        return Dataset.from_list([_record(example, tokenizer, weight) for example in loaded.examples])

    trainer = seeded_sft_trainer()(  # TRL's SFTTrainer; its batch order is (seed, epoch)-determined: exact resumes
        model=model,
        args=sft_config(train, ckpt_dir, evaluating, dtype, load_in_4bit, padding),
        train_dataset=records(train_set),
        eval_dataset=records(eval_set) if evaluating else None,
        processing_class=tokenizer,
        peft_config=model_utils.lora_config(lora),
        callbacks=callbacks,
    )
    if weighted:  # the eval rows are weighted too: the eval loss, and so the kept checkpoint, is the weighted loss
        trainer.data_collator = weighting.WeightedCollator(trainer.data_collator)
    trainer.remove_callback(PrinterCallback)
    output = trainer.train(resume_from_checkpoint=resume_from)
    if not main_process:  # rank 0 scores, saves and writes the metrics
        return {"task": task, "steps": trainer.state.global_step, "rank": int(os.environ.get("RANK", "0"))}

    metrics = {
        "task": task,
        "base_model": run.base_model,
        "load_in_4bit": load_in_4bit,
        "dtype": dtype,
        "padding": padding,
        "lora_r": lora.r,
        "steps": trainer.state.global_step,
        "epochs": round(float(trainer.state.epoch or 0), 3),
        "resumed_from_step": _step_of(resume_from),
        "world_size": int(os.environ.get("WORLD_SIZE", "1")),
        "train_runtime_seconds": round(float(output.metrics.get("train_runtime", 0.0)), 1),
        **_last_logged(trainer.state.log_history, {"loss": "train_loss", "mean_token_accuracy": "train_token_accuracy"}),
        **train_set.report("train"),
    }
    tokens = _last_logged(trainer.state.log_history, {"num_tokens": "tokens"}).get("tokens")
    if tokens and output.metrics.get("train_runtime") and resume_from is None:
        metrics["train_tokens_per_second"] = round(tokens / output.metrics["train_runtime"], 1)
    if evaluating:
        # load_best_model_at_end put the best checkpoint back (keep_best; else the final weights stay, and the numbers
        # are the last evaluation's); the eval numbers are in the log (no re-evaluation)
        evaluations = [e for e in trainer.state.log_history if "eval_loss" in e]
        if train.keep_best:
            best_step = _step_of(trainer.state.best_model_checkpoint)
            kept = {"best_checkpoint_step": best_step}
            evaluations = [e for e in evaluations if e.get("step") == best_step]
        else:
            kept = {"adapter_step": trainer.state.global_step, "last_eval_step": evaluations[-1]["step"] if evaluations else None}
        metrics.update({**kept, **eval_set.report("eval"),
                        **_last_logged(evaluations, {"eval_loss": "eval_loss", "eval_mean_token_accuracy": "eval_token_accuracy"})})
        if task == "reranker":
            from medtune.train.scoring import reranker_accuracy

            scored = reranker_accuracy(trainer.model, tokenizer, read_jsonl(run.eval_data), train.max_seq_len)
            metrics.update({"eval_accuracy": scored["accuracy"], "eval_majority_accuracy": scored["majority_accuracy"]})

    with atomic_path(output_dir, is_dir=True) as tmp:
        trainer.model.save_pretrained(tmp)
        canonicalize_adapter_config(tmp)  # byte-identical reruns (ops/determinism.py)
        tokenizer.save_pretrained(tmp)
    shutil.rmtree(ckpt_dir, ignore_errors=True)  # the adapter is in place: the run no longer needs resuming
    metrics["seconds"] = round(time.perf_counter() - started, 1)
    log.info("%s adapter -> %s (%s)", task, output_dir, ", ".join(f"{k} {v}" for k, v in metrics.items() if "loss" in k or "accuracy" in k))
    if metrics_path:
        write_json(metrics_path, metrics)
    return metrics


def _record(example, tokenizer, decision_weight: float) -> dict:
    """TRL's prompt-completion record; with a decision weight, plus its per-token `loss_weights` (train/weighting.py)."""
    record = example.as_record()
    if decision_weight != 1:
        record[weighting.COLUMN] = weighting.token_weights(tokenizer, example.prompt, example.completion,
                                                           example.weighted_spans, decision_weight)
    return record


def _step_of(checkpoint: str | None) -> int | None:
    return int(str(checkpoint).rsplit("-", 1)[-1]) if checkpoint else None


def _last_logged(history: list[dict], names: dict[str, str]) -> dict:
    found = {}
    for entry in history:
        for key, name in names.items():
            if key in entry:
                found[name] = round(float(entry[key]), 4)
    return found
