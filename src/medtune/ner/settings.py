"""Settings of the GLiNER2 entity extractor: params block `ner` (and `ner.lora`, `ner.base`) or CLI flags.

Same pattern as `medtune.config`: one dataclass per block, a field's metadata names its seed-000 flag, so
`medtune train ner --lora-rank 16` and `dvc exp run -S ner.lora.r=16` set the same field. These are not the
causal-LM `lora`/`train` blocks: `-S lora.r=32` must not touch the NER stages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from medtune.config import ConfigError, flag, from_mapping

# GLiNER2's own module groups (gliner2.training.lora_targets): the encoder's attention/FFN projections
# and every linear layer of the task heads. LoRA freezes the base, heads included; adapting the heads
# too lets the adapter re-map what the base heads learned to the new labels.
DEFAULT_LORA_TARGETS = "encoder,span_rep,classifier,count_embed,count_pred"


@dataclass
class NerLoraSettings:
    """Params block `ner.lora`."""

    enabled: bool = field(default=True, metadata=flag("--no-lora", "full fine-tune instead of LoRA (saves models/ner/best)", action="store_const", const=False))
    r: int = field(default=8, metadata=flag("--lora-rank", "LoRA rank"))
    alpha: float = field(default=16.0, metadata=flag("--lora-alpha", "LoRA scaling factor alpha"))
    dropout: float = field(default=0.0, metadata=flag("--lora-dropout", "dropout on the LoRA path"))
    target_modules: str = field(
        default=DEFAULT_LORA_TARGETS,
        metadata=flag("--lora-targets", "comma-separated GLiNER2 module groups: encoder, encoder.query, span_rep, classifier, count_embed, count_pred"),
    )


@dataclass
class NerSettings:
    """Params block `ner` (training and inference of the entity extractor; seed-000 flag names and defaults)."""

    epochs: int = field(default=10, metadata=flag("--epochs", "training epochs"))
    batch_size: int = field(default=8, metadata=flag("--batch-size", "training batch size"))
    encoder_lr: float = field(default=1e-5, metadata=flag("--encoder-lr", "learning rate of the encoder (full fine-tune)"))
    task_lr: float = field(default=5e-4, metadata=flag("--task-lr", "learning rate of the task heads, and of the LoRA weights"))
    eval_steps: int = field(default=500, metadata=flag("--eval-steps", "evaluate on --eval-data every N optimizer steps"))
    max_examples: int = field(default=0, metadata=flag("--max-examples", "use at most N training rows (0 = all)"))
    threshold: float = field(default=0.5, metadata=flag("--threshold", "entity score threshold at inference and evaluation"))
    freeze_embeddings: bool = field(
        default=False,
        metadata=flag("--freeze-embeddings", "full fine-tune: keep the encoder's word-embedding matrix frozen", action="store_const", const=True),
    )
    ask_all_labels: bool = field(
        default=True,
        metadata={},  # params only: every training example asks for every schema label, absent ones as negatives
    )
    seed: int = field(default=42, metadata=flag("--seed", "random seed"))


@dataclass
class NerBaseSettings:
    """Params block `ner.base`: how `build-base-ner` trains GLiNER2 heads on a plain encoder (offline profile)."""

    sentences: int = 400
    epochs: int = 3
    batch_size: int = 8
    encoder_lr: float = 1e-4
    task_lr: float = 3e-3
    freeze_embeddings: bool = True
    seed: int = 42


def ner_settings(params: Mapping[str, Any]) -> tuple[NerSettings, NerLoraSettings]:
    """`ner` and `ner.lora` from params.yaml; the top-level `seed` unless `ner.seed` overrides it (null or absent:
    the top-level one; params.yaml states the key so that train-ner can declare it to DVC)."""
    block = dict(params.get("ner") or {})
    block.pop("base", None)
    lora = from_mapping(NerLoraSettings, block.pop("lora", None), where="ner.lora")
    if block.get("seed") is None:
        block.pop("seed", None)
        if "seed" in params:
            block["seed"] = params["seed"]
    return from_mapping(NerSettings, block, where="ner"), lora


def ner_base_settings(params: Mapping[str, Any]) -> NerBaseSettings:
    block = dict((params.get("ner") or {}).get("base") or {})
    if "seed" in params:
        block.setdefault("seed", params["seed"])
    return from_mapping(NerBaseSettings, block, where="ner.base")


def check(settings: NerSettings, lora: NerLoraSettings) -> None:
    """Values the trainer would accept but that cannot be meant."""
    for name in ("epochs", "batch_size", "eval_steps"):
        if getattr(settings, name) <= 0:
            raise ConfigError(f"ner.{name} must be > 0, got {getattr(settings, name)}")
    if not 0.0 <= settings.threshold <= 1.0:
        raise ConfigError(f"ner.threshold must be in [0, 1], got {settings.threshold}")
    if lora.enabled and (lora.r <= 0 or lora.alpha <= 0):
        raise ConfigError(f"ner.lora: r and alpha must be > 0, got r={lora.r}, alpha={lora.alpha}")
