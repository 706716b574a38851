"""Pipeline figures for `make bench` (entry "pipeline" -> metrics/bench.json): cold `dvc repro`, no-op `dvc repro`
and `dvc exp run -S lora.r=32` relative to cold, in a throwaway copy of the pipeline (never the workspace, its
cache or its experiments).

Profile: the full sample profile takes tens of minutes on 2 cores (build-base and each SFT stage alone run for
minutes), so the bench runs every stage of the real dvc.yaml on the reduced SMOKE_PROFILE (ops/sandbox.py; the profile of
`make smoke`). What the figures say is pipeline overhead and scoping, which do not depend on sizes;
stage process start-up (imports of torch/transformers/peft) weighs more here than with real sizes.
Targets: no-op <= 3 s; the lora.r=32 re-run <= 40% of cold.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from medtune.ops.sandbox import SMOKE_PROFILE, commit_all, dvc, make_pipeline_repo

NOOP_TARGET_S = 3.0
LORA_RERUN_TARGET = 0.40


def _timed(*args: str, repo: Path) -> tuple[float, str]:
    started = time.perf_counter()
    done = dvc(*args, cwd=repo, timeout=3600)
    return time.perf_counter() - started, done.stdout


def _stages_run(stdout: str) -> list[str]:
    return [line.split("'")[1] for line in stdout.splitlines() if line.startswith("Running stage '")]


def bench_pipeline(keep: Path | None = None) -> dict:
    work = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    try:
        repo = make_pipeline_repo(work / "repo", SMOKE_PROFILE)
        cold, cold_out = _timed("repro", repo=repo)
        commit_all(repo, "bench: cold run")  # `dvc exp run` starts from a commit
        noop, noop_out = _timed("repro", repo=repo)
        rerun, rerun_out = _timed("exp", "run", "-S", "lora.r=32", repo=repo)
        return {
            "profile": "SMOKE_PROFILE (ops/sandbox.py): every stage, tiny sizes",
            "cold_repro_seconds": round(cold, 1),
            "cold_stages": len(_stages_run(cold_out)),
            "noop_repro_seconds": round(noop, 2),
            "noop_stages_run": len(_stages_run(noop_out)),
            "noop_target_seconds": NOOP_TARGET_S,
            "noop_within_target": noop <= NOOP_TARGET_S,
            "lora_r32_rerun_seconds": round(rerun, 1),
            "lora_r32_stages": sorted(_stages_run(rerun_out)),
            "lora_r32_vs_cold": round(rerun / cold, 3),
            "lora_r32_target_ratio": LORA_RERUN_TARGET,
            "lora_r32_within_target": rerun / cold <= LORA_RERUN_TARGET,
        }
    finally:
        if keep:
            shutil.copytree(work, keep, dirs_exist_ok=True)
        shutil.rmtree(work, ignore_errors=True)
