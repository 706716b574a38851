"""File I/O shared by every stage: JSONL streaming with line numbers, atomic outputs, flat JSON metrics.

Outputs are written to a temporary sibling and renamed into place, so a killed stage never leaves a
half-written file or adapter directory behind (DVC would otherwise cache a broken output).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator

import orjson


class InputError(ValueError):
    """Bad input a user must fix; the message names the file (and line where there is one)."""


def iter_jsonl_lines(path: Path | str) -> Iterator[tuple[int, bytes]]:
    """Yield (1-based line number, raw line without newline) for non-blank lines."""
    path = Path(path)
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from exc
    with fh:
        for number, line in enumerate(fh, start=1):
            line = line.rstrip(b"\r\n")
            if line.strip():
                yield number, line


def read_jsonl(path: Path | str) -> list[dict]:
    """Load a JSONL file that is expected to be valid (a pipeline product); errors name file and line."""
    rows = []
    for number, line in iter_jsonl_lines(path):
        try:
            rows.append(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            raise InputError(f"{path}:{number}: invalid JSON ({exc})") from exc
    return rows


def dumps(obj: Any) -> bytes:
    """Compact, key-order-preserving JSON bytes (orjson: ~10x faster than json on the clean hot path)."""
    return orjson.dumps(obj)


def _umask() -> int:
    mask = os.umask(0)  # the only portable way to read it is to set it; restored at once
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: Path | str, is_dir: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to `path`; on success it replaces `path` in one rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # `.partial` names are git- and dvc-ignored, so a temp left by a SIGKILL is never committed or cached
    if is_dir:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
    else:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
        os.close(fd)  # callers reopen the path; keeping the descriptor would leak one per output
        tmp = Path(name)
    try:
        yield tmp
        # mkstemp/mkdtemp create 0600/0700 (private temporaries); the final output gets the usual umask mode
        os.chmod(tmp, (0o777 if tmp.is_dir() else 0o666) & ~_umask())
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink(missing_ok=True)
        raise


def write_jsonl(path: Path | str, rows: Iterable[dict]) -> int:
    count = 0
    with atomic_path(path) as tmp, tmp.open("wb") as fh:
        for row in rows:
            fh.write(orjson.dumps(row))
            fh.write(b"\n")
            count += 1
    return count


def write_json(path: Path | str, obj: Any) -> None:
    """Pretty, key-sorted JSON so metric diffs in pull requests stay readable."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def read_json(path: Path | str) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg})") from exc
