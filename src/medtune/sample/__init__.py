"""Deterministic synthetic clinical data for every task (the offline `sample` profile).

`generate(task, n, seed)` returns clean raw rows in the task's accepted formats; `write_sample(...)` writes
`<out>/<task>/sample.jsonl` with about `dirty_fraction` deliberately dirty lines mixed in. Each task has
its own random stream (seeded by "<seed>:<task>"), so changing one task's size leaves the others' rows
unchanged.
"""

from __future__ import annotations

import importlib
import random
from pathlib import Path
from typing import Callable

from medtune.io import atomic_path

GENERATORS: dict[str, str] = {
    "reranker": "medtune.sample.tasks:generate_reranker",
    "cot": "medtune.sample.tasks:generate_cot",
    "ner": "medtune.sample.tasks:generate_ner",
    "nli": "medtune.sample.tasks:generate_nli",
    "endpoints": "medtune.sample.endpoints:generate_endpoints",
    "qa": "medtune.sample.qa:generate_qa",
    "chem-ner": "medtune.sample.chem_ner:generate_chem_ner",
}


def generator(task: str) -> Callable[[random.Random, int, float], list[dict]]:
    if task not in GENERATORS:
        raise ValueError(f"no sample generator for task {task!r}; known: {sorted(GENERATORS)}")
    module, name = GENERATORS[task].split(":")
    return getattr(importlib.import_module(module), name)


def generate(task: str, n: int, seed: int = 42, holdout_fraction: float = 0.04) -> list[dict]:
    """`n` clean rows for `task`; a `holdout_fraction` of groups uses unseen vocabulary (test-only)."""
    rng = random.Random(f"{seed}:{task}")
    return generator(task)(rng, n, holdout_fraction)


def write_sample(out_dir: Path | str, sizes: dict[str, int], seed: int, dirty_fraction: float, holdout_fraction: float,
                 on_task: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Write `<out_dir>/<task>/sample.jsonl` per task; returns the number of lines written per task."""
    from medtune.sample.dirty import with_dirty_rows

    written = {}
    for task, n in sizes.items():
        rows = generate(task, n, seed, holdout_fraction)
        lines = with_dirty_rows(task, rows, dirty_fraction, random.Random(f"{seed}:{task}:dirty"))
        with atomic_path(Path(out_dir) / task / "sample.jsonl") as tmp:
            tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        written[task] = len(lines)
        if on_task:
            on_task(task, len(lines))
    return written
