"""What "the same run" means for metrics and models, and the one place where a library output is not canonical.

Bit-identical on the same machine and software stack: data files, tokenizer, base model, adapters, predictions
and every metric *except* wall-clock figures. Timing figures are kept in the metrics files (they are useful next
to the numbers they describe) and recognised by name: a key or dvclive plot ending in `seconds`, `runtime`,
`runtime_s` or `per_second` is timing and excluded from comparisons (TIMING_KEY).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

TIMING_KEY = re.compile(r"(seconds|runtime|runtime_s|per_second)$")


def strip_timing(obj):
    """A copy of a metrics object without timing keys (nested dvclive summaries included)."""
    if isinstance(obj, dict):
        return {k: strip_timing(v) for k, v in obj.items() if not TIMING_KEY.search(str(k))}
    if isinstance(obj, list):
        return [strip_timing(v) for v in obj]
    return obj


def file_digest(path: Path) -> str | None:
    """sha256 of a file's comparable content: JSON without timing keys; None for a timing-only plot file."""
    if path.suffix == ".tsv" and TIMING_KEY.search(path.stem):
        return None
    if path.suffix == ".json":
        try:
            content = json.dumps(strip_timing(json.loads(path.read_text())), sort_keys=True).encode()
        except json.JSONDecodeError:
            content = path.read_bytes()
    else:
        content = path.read_bytes()
    return hashlib.sha256(content).hexdigest()


def snapshot(root: Path | str, folders: tuple[str, ...] = ("metrics", "models")) -> dict[str, str]:
    """relative path -> comparable digest for every file under `folders` (DVC's own .gitignore files excluded)."""
    root = Path(root)
    digests = {}
    for folder in folders:
        for path in sorted((root / folder).rglob("*")):
            if path.is_file() and path.name != ".gitignore" and (digest := file_digest(path)) is not None:
                digests[str(path.relative_to(root))] = digest
    return digests


def differences(first: dict[str, str], second: dict[str, str]) -> list[str]:
    return sorted(p for p in first.keys() | second.keys() if first.get(p) != second.get(p))


def canonicalize_adapter_config(adapter_dir: Path | str) -> None:
    """Sort the module lists of a saved peft adapter_config.json.

    peft keeps `target_modules` (and `modules_to_save`) as a Python set and writes it in set iteration order, which
    follows the per-process string-hash seed (PYTHONHASHSEED): two identical runs wrote the same weights with a
    differently ordered config. Sorting changes no meaning (peft reads the list back into a set)."""
    path = Path(adapter_dir) / "adapter_config.json"
    config = json.loads(path.read_text())
    for key in ("target_modules", "modules_to_save", "exclude_modules"):
        if isinstance(config.get(key), list):
            config[key] = sorted(config[key])
    path.write_text(json.dumps(config, indent=2, sort_keys=True))  # the layout peft writes
