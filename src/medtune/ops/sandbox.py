"""A throwaway copy of this repository's pipeline (dvc.yaml, params.yaml, stages/, src/, configs/) in its own git +
DVC repo, optionally with a reduced parameter profile: used by the reproducibility tests and `make bench` so that
neither ever touches the workspace, its DVC cache or its experiments.

`TINY_PROFILE` shrinks only sizes (rows, model width, steps); the stage graph, the code and the params keys are the
real ones, so what holds for the copy (scoping, determinism, resume) holds for the full pipeline.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]
DVC = str(Path(sys.executable).parent / "dvc")  # this interpreter's dvc, whatever PATH says
# Tracked paths a pipeline copy needs; never data/, models/, metrics/ or dvc.lock (a copy starts cold).
PIPELINE_PATHS = ("dvc.yaml", "params.yaml", "stages", "src", "configs", "assets", ".dvcignore", ".gitignore", "pyproject.toml")

# A few dozen rows per task and a ~50 k-parameter base: the LM path (fetch -> clean -> split -> build-base ->
# train-reranker) takes about a minute on one CPU thread.
TINY_PROFILE: dict[str, Any] = {
    "data": {
        "sample": {
            # the grouped, stratified split needs ~50 members per class; training is capped by train.max_examples
            "sizes": {"cot": 150, "reranker": 200, "ner": 120, "endpoints": 200, "qa": 150, "nli": 220, "chem-ner": 200},
            "dirty_fraction": 0.0,
        },
        "max_reject_fraction": 0.5,
    },
    "tiny_lm": {"init": "", "vocab_size": 400, "hidden_size": 64, "num_layers": 2, "num_heads": 2, "intermediate_size": 128,
                "max_position_embeddings": 512, "block_size": 128, "chat_docs": 40, "json_docs": 10,
                "epochs": 1, "max_steps": 4, "batch_size": 8},
    "eval": {"bootstrap": 100, "reranker": {"max_test_rows": 12}},
    "train": {"epochs": 1, "batch_size": 8, "max_seq_len": 256, "eval_steps": 2, "save_steps": 2, "save_total_limit": 2,
              "logging_steps": 1, "early_stopping_patience": 0, "max_examples": 48},
    "lora": {"r": 4, "alpha": 8},
}


def deep_merge(base: dict, override: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


# Every stage of dvc.yaml at TINY_PROFILE sizes plus a small NER/NLI/eval setting: `make smoke` and the pipeline
# bench. A cold run checks the whole graph end to end in minutes; its metrics say nothing about model quality.
SMOKE_PROFILE = deep_merge(TINY_PROFILE, {
    "ner": {"max_examples": 40, "eval_steps": 10, "base": {"sentences": 40, "epochs": 1}},
    "nli": {"epochs": 1},
    # the tiny tokenizer (vocab 400) spends more tokens per answer: QA/endpoints/chem-ner rows need a longer window
    "tiny_lm": {"max_position_embeddings": 1024},
    "train": {"max_seq_len": 1024},
    "endpoints": {"train": {"max_seq_len": 1024}},
    "chem_ner": {"train": {"max_seq_len": 1024}},
    "eval": {"bootstrap": 100, **{task: {"max_test_rows": 8} for task in ("reranker", "cot", "endpoints", "chem_ner", "qa")}},
})


def command_env() -> dict[str, str]:
    """Offline, one torch thread, and this interpreter's `python`/`dvc` first on PATH (stage commands say `python`)."""
    env = dict(os.environ)
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "DVC_NO_ANALYTICS": "1",
                "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": env.get("OMP_NUM_THREADS", "1"),
                "GIT_AUTHOR_NAME": "medtune", "GIT_AUTHOR_EMAIL": "medtune@localhost",
                "GIT_COMMITTER_NAME": "medtune", "GIT_COMMITTER_EMAIL": "medtune@localhost"})
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("PYTHONPATH", None)  # stage commands set PYTHONPATH=src: the copy runs its own code
    return env


def run(args: list[str], cwd: Path, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
    done = subprocess.run(args, cwd=cwd, env=command_env(), capture_output=True, text=True, timeout=timeout)
    if check and done.returncode:
        raise RuntimeError(f"{' '.join(args)} failed in {cwd} (exit {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}")
    return done


def dvc(*args: str, cwd: Path, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
    return run([DVC, *args], cwd, check, timeout)


def timed_dvc(*args: str, cwd: Path) -> float:
    started = time.perf_counter()
    dvc(*args, cwd=cwd)
    return time.perf_counter() - started


def git(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    return run(["git", *args], cwd, check)


def make_pipeline_repo(dest: Path | str, overrides: dict | None = None, source: Path = REPO) -> Path:
    """Copy the pipeline into `dest` (a new git + DVC repo with one commit); `overrides` are merged into params.yaml."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in PIPELINE_PATHS:
        src = source / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, dest / name)
    if overrides:
        params = yaml.safe_load((dest / "params.yaml").read_text())
        (dest / "params.yaml").write_text(yaml.safe_dump(deep_merge(params, overrides), sort_keys=False))
    git("init", "-q", "-b", "main", cwd=dest)
    dvc("init", "-q", cwd=dest)
    dvc("config", "core.analytics", "false", cwd=dest)
    git("add", "-A", cwd=dest)
    git("commit", "-q", "-m", "pipeline copy", cwd=dest)
    return dest


def commit_all(repo: Path, message: str) -> None:
    git("add", "-A", cwd=repo)
    git("commit", "-q", "--allow-empty", "-m", message, cwd=repo)
