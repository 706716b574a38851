"""Atomic outputs: readable like any other file, no descriptor left open, nothing left behind on failure."""

from __future__ import annotations

import json
import os

import pytest

from medtune.io import atomic_path, write_json


def test_atomic_outputs_get_the_umask_mode_not_the_private_temp_mode(tmp_path):
    old = os.umask(0o022)
    try:
        write_json(tmp_path / "m.json", {"a": 1})
        with atomic_path(tmp_path / "d", is_dir=True) as tmp:
            (tmp / "f").write_text("x")
    finally:
        os.umask(old)
    assert (tmp_path / "m.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o755


def _descriptors_under(folder) -> list[str]:
    """Targets of this process's open descriptors that lie in `folder`.

    Counting all descriptors was flaky in CI: threads left by earlier tests (vLLM, tokenizers) open and
    close their own descriptors meanwhile. A leaked one from atomic_path points at the output (or its
    temporary) in `folder`, whatever else the process is doing.
    """
    targets = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            targets.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:  # closed between listdir and readlink
            continue
    return [t for t in targets if t.startswith(str(folder))]


def test_atomic_path_leaves_no_descriptor_open(tmp_path):
    for i in range(20):
        write_json(tmp_path / f"m{i}.json", {"i": i})
        with atomic_path(tmp_path / f"d{i}", is_dir=True) as tmp:
            (tmp / "f").write_text("x")
    assert _descriptors_under(tmp_path) == []


def test_a_failed_write_leaves_the_old_output_and_no_temporary(tmp_path):
    write_json(tmp_path / "m.json", {"a": 1})
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "m.json") as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert json.loads((tmp_path / "m.json").read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]
