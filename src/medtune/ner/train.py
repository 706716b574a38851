"""Fine-tune a GLiNER2 extractor with gliner2's own trainer (`GLiNER2Trainer` / `TrainingConfig`).

LoRA run (default) -> `<output>/final`: the PEFT adapter (adapter_config.json + adapter_model.safetensors)
*and* the merged weights with config.json, so `GLiNER2.from_pretrained(final)` and
`PeftModel.from_pretrained(GLiNER2.from_pretrained(base), final)` both work offline (upstream GLiNER2
saves adapter-only folders without config.json, which `from_pretrained` then mistakes for a hub id).
Full run (`--no-lora`) -> `<output>/best`: the checkpoint with the best eval entity F1 (the last one when
there is no eval data). Each output carries `medtune_ner.json`: kind, base (+ weights digest), labels,
descriptions and threshold, so `medtune extract --model <dir>` needs no other flag.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from medtune.evaluate.entities import EntityCounts, exact_items
from medtune.io import atomic_path
from medtune.ner import model as models
from medtune.ner.data import to_gliner_records
from medtune.ner.predict import extract_entities
from medtune.ner.schema import EntitySchema
from medtune.ner.settings import NerLoraSettings, NerSettings, check

log = logging.getLogger(__name__)


def eval_strategy(settings: NerSettings, train_examples: int, has_eval: bool) -> str:
    """'steps' normally; 'epoch' when the whole run is shorter than `eval_steps` (the trainer would then
    never evaluate and the eval data would be silently unused — the seed's failure mode); 'no' without data."""
    if not has_eval:
        return "no"
    # The trainer drops the last partial batch when there is more than one batch.
    per_epoch = train_examples // settings.batch_size if train_examples > settings.batch_size else 1
    planned = per_epoch * settings.epochs
    if settings.eval_steps > planned:
        log.warning("eval_steps=%d exceeds the %d steps of this run: evaluating at each epoch end instead", settings.eval_steps, planned)
        return "epoch"
    return "steps"


def trainer_config(settings: NerSettings, lora: NerLoraSettings, output_dir: Path, strategy: str) -> Any:
    from gliner2.training.trainer import TrainingConfig

    has_eval = strategy != "no"
    return TrainingConfig(
        output_dir=str(output_dir),
        num_epochs=settings.epochs,
        batch_size=settings.batch_size,
        encoder_lr=settings.encoder_lr,
        task_lr=settings.task_lr,
        seed=settings.seed,
        eval_strategy=strategy,
        eval_steps=settings.eval_steps,
        # Best = highest entity micro-F1 on the eval rows (computed by `entity_f1_metric`), not eval loss:
        # the loss is a sum over candidate spans and tracks extraction quality only loosely.
        metric_for_best="eval_entity_f1",
        greater_is_better=True,
        save_best=has_eval,
        save_total_limit=1,
        logging_steps=max(1, min(10, settings.eval_steps)),
        use_lora=lora.enabled,
        lora_r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        lora_target_modules=[t.strip() for t in lora.target_modules.split(",") if t.strip()],
        save_adapter_only=True,
        # CPU: its defaults (4 workers, pinned memory, fp16 auto-disabled with a warning) only add noise.
        fp16=False,
        num_workers=0,
        pin_memory=False,
        # We validate (and fail on) bad rows ourselves; its validator would drop them with a print.
        validate_data=False,
    )


def entity_f1_metric(eval_rows: list[dict], schema: EntitySchema, threshold: float, batch_size: int):
    """`compute_metrics` hook for the trainer: extract entities from the eval rows and score exact spans."""
    gold = [exact_items(row["entities"]) for row in eval_rows]

    def compute(model: Any, _dataset: Any) -> dict[str, float]:
        predicted = extract_entities(model, [row["text"] for row in eval_rows], schema, threshold, batch_size)
        counts = EntityCounts(gold, [exact_items(doc) for doc in predicted])
        precision, recall, f1 = counts.micro()
        log.info("eval: entity micro-F1 %.4f (P %.4f, R %.4f) on %d rows", f1, precision, recall, len(eval_rows))
        return {"eval_entity_f1": float(f1), "eval_entity_precision": float(precision), "eval_entity_recall": float(recall)}

    return compute


def _limit(rows: list[dict], max_examples: int) -> list[dict]:
    return rows[:max_examples] if max_examples > 0 else rows


def train_ner(
    train_rows: list[dict],
    base: str | Path,
    output_dir: str | Path,
    schema: EntitySchema,
    settings: NerSettings,
    lora: NerLoraSettings,
    eval_rows: list[dict] | None = None,
    live: Any = None,
) -> dict:
    """Train, save `<output_dir>/final` (LoRA) or `<output_dir>/best` (full), return a summary dict.

    `base` must be a GLiNER2 checkpoint (the `build-base-ner` output, or a hub id when online). The output
    directory is replaced atomically. `live` is an optional dvclive `Live` that receives the curves."""
    import torch
    from gliner2.training.trainer import GLiNER2Trainer

    check(settings, lora)
    kind, base_location = models.resolve(base)
    if kind not in ("gliner2", "hub"):
        raise models.ModelPathError(
            f"{base}: train-ner needs a GLiNER2 checkpoint as its base, found a {kind}"
            + (" (run build-base-ner to put trained heads on it)" if kind == "encoder" else "")
        )
    train_rows = _limit(train_rows, settings.max_examples)
    train_records = to_gliner_records(train_rows, schema, settings.ask_all_labels, where="train data")
    eval_records = to_gliner_records(eval_rows, schema, settings.ask_all_labels, where="eval data") if eval_rows else None
    if eval_rows is None:
        log.warning("no eval data: training without evaluation%s", "" if lora.enabled else "; 'best' will be the last checkpoint")

    model = models.load_gliner2(base_location)
    if settings.freeze_embeddings and not lora.enabled:
        models.freeze_word_embeddings(model)
    output_dir = Path(output_dir)
    with atomic_path(output_dir, is_dir=True) as staging:
        run_dir = staging / "run"
        strategy = eval_strategy(settings, len(train_records), bool(eval_records))
        config = trainer_config(settings, lora, run_dir, strategy)
        compute_metrics = entity_f1_metric(eval_rows, schema, settings.threshold, settings.batch_size) if eval_rows else None
        # The eval data goes in under the keyword the installed trainer accepts (`eval_data`; there is
        # no `val_data`): the seed passed a wrong name and silently trained without evaluation.
        trainer = GLiNER2Trainer(model, config, train_data=train_records, eval_data=eval_records, compute_metrics=compute_metrics)
        trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
        total = sum(p.numel() for p in trainer.model.parameters())
        started = time.perf_counter()
        result = trainer.train()
        seconds = time.perf_counter() - started
        if eval_records and not result["eval_metrics_history"]:
            raise RuntimeError("eval data was given but the trainer never evaluated")

        manifest = {
            "labels": list(schema.entities),
            "descriptions": schema.entities,
            "relations": list(schema.relations),
            "threshold": settings.threshold,
            "settings": asdict(settings),
            "lora": asdict(lora) if lora.enabled else None,
        }
        if lora.enabled:
            _save_lora_output(trainer, run_dir / "final", staging / "final", base_location, output_dir / "final", manifest)
        else:
            chosen = run_dir / "best" if (run_dir / "best").exists() else run_dir / "final"
            shutil.move(str(chosen), staging / "best")
            models.write_manifest(staging / "best", {**manifest, "kind": "full", "selected": chosen.name, "base": str(base)})
        _keep_training_config(run_dir / "training_config.json", staging / "training_config.json", output_dir / "run")
        shutil.rmtree(run_dir)

    summary = _summary(result, seconds, len(train_records), trainable, total, lora.enabled)
    if live is not None:
        _log_curves(live, result)
    return summary


def _save_lora_output(trainer: Any, adapter_dir: Path, target: Path, base_location: str, final_path: Path, manifest: dict) -> None:
    """Adapter files + merged weights in one folder, and a manifest pointing at the exact base."""
    shutil.move(str(adapter_dir), target)
    base_dir = Path(base_location)
    if base_dir.is_dir():
        base_ref = Path(_relative(base_dir.resolve(), final_path.resolve())).as_posix()
        digest = models.weights_digest(base_dir)
    else:  # a hub id (online runs): recorded as is
        base_ref, digest = base_location, None
    # merge_and_unload folds the LoRA deltas into the base weights; the adapter files stay next to them.
    merged = trainer.model.merge_and_unload()
    merged.save_pretrained(str(target))
    models.write_manifest(target, {**manifest, "kind": "lora+merged", "base": base_ref, "base_sha256": digest})


def _keep_training_config(source: Path, target: Path, recorded_dir: Path) -> None:
    """GLiNER2's training config, with its output_dir pointed at the final model folder: the staging folder has a
    random name (atomic_path), which would give the model a different hash on every identical run."""
    config = json.loads(source.read_text())
    config["output_dir"] = str(recorded_dir)
    target.write_text(json.dumps(config, indent=2) + "\n")


def _relative(path: Path, start: Path) -> str:
    import os

    return os.path.relpath(path, start)


def _summary(result: dict, seconds: float, examples: int, trainable: int, total: int, lora: bool) -> dict:
    history = result.get("train_metrics_history") or []
    evals = result.get("eval_metrics_history") or []
    summary = {
        "train_seconds": round(seconds, 2),
        "train_examples": examples,
        "train_examples_per_second": round(result.get("samples_per_second", 0.0), 3),
        "steps": result.get("total_steps", 0),
        "epochs": result.get("total_epochs", 0),
        "final_train_loss": history[-1]["loss"] if history else None,
        "trainable_parameters": trainable,
        "total_parameters": total,
        "lora": lora,
        "evaluations": len(evals),
    }
    if evals:
        summary["final_eval_loss"] = evals[-1]["eval_loss"]
        summary["best_eval_entity_f1"] = float(max(e.get("eval_entity_f1", 0.0) for e in evals))
        summary["final_eval_entity_f1"] = float(evals[-1].get("eval_entity_f1", 0.0))
    return summary


def _log_curves(live: Any, result: dict) -> None:
    """Training curves into dvclive after the run (the trainer has no callback hook; same plots)."""
    for record in result.get("train_metrics_history") or []:
        live.step = int(record["step"])
        live.log_metric("train/loss", float(record["loss"]))
        live.log_metric("train/learning_rate", float(record["learning_rate"]))
    for record in result.get("eval_metrics_history") or []:
        live.step = int(record["step"])
        for key in ("eval_loss", "eval_entity_f1", "eval_entity_precision", "eval_entity_recall"):
            if key in record:
                live.log_metric(f"eval/{key.removeprefix('eval_')}", float(record[key]))
