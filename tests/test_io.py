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


def test_atomic_path_leaves_no_descriptor_open(tmp_path):
    before = len(os.listdir("/proc/self/fd"))
    for i in range(20):
        write_json(tmp_path / f"m{i}.json", {"i": i})
    assert len(os.listdir("/proc/self/fd")) == before


def test_a_failed_write_leaves_the_old_output_and_no_temporary(tmp_path):
    write_json(tmp_path / "m.json", {"a": 1})
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "m.json") as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert json.loads((tmp_path / "m.json").read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]
