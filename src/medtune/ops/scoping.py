"""Which stages a params change re-runs, read from DVC itself (never from our own reading of dvc.yaml).

A throwaway copy of the pipeline gets placeholder outputs and a `dvc commit --force`, so every stage is up to date
without running anything; then a params edit (what `dvc exp run -S key=value` does before it reproduces) is applied
and DVC is asked: `dvc status --json` names the stages whose own params/deps changed, and
`dvc repro --dry --force-downstream` names everything a real `dvc repro` would run (a re-trained adapter changes,
so its merge/evaluate stages re-run too).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from medtune.ops.sandbox import commit_all, dvc, make_pipeline_repo


def _declared_paths(dvc_yaml: dict) -> list[str]:
    """Outputs first (folders before the files that deps name inside them), then deps."""
    paths = []
    for stage in dvc_yaml["stages"].values():
        for kind in ("outs", "metrics", "plots", "deps"):
            for entry in stage.get(kind, []):
                paths.append(next(iter(entry)) if isinstance(entry, dict) else entry)
    return paths


def make_committed_pipeline(dest: Path | str) -> Path:
    """A pipeline copy where every stage counts as reproduced: placeholder outputs recorded with `dvc commit`."""
    repo = make_pipeline_repo(dest)
    for path in _declared_paths(yaml.safe_load((repo / "dvc.yaml").read_text())):
        target = repo / path
        if target.exists():  # code and configs (deps) are the real files
            continue
        if target.suffix:  # files: metrics/*.json, predictions .jsonl, plot .png
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(f"placeholder {path}\n")
        else:              # folders: data/raw, models/<task>/adapter, dvclive dirs
            target.mkdir(parents=True, exist_ok=True)
            (target / "placeholder.txt").write_text(f"placeholder {path}\n")
    dvc("commit", "--force", "--quiet", cwd=repo)
    commit_all(repo, "placeholder outputs committed")
    return repo


def set_param(params_file: Path, dotted_key: str, value) -> None:
    """Apply `-S dotted.key=value` to params.yaml (the key must exist: a typo must not pass as 'changes nothing')."""
    params = yaml.safe_load(params_file.read_text())
    *parents, last = dotted_key.split(".")
    node = params
    for part in parents:
        node = node[part]
    if last not in node:
        raise KeyError(f"{params_file}: no params key {dotted_key}")
    node[last] = value
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))


def stages_to_rerun(repo: Path, changes: dict) -> tuple[set[str], set[str]]:
    """(stages whose own inputs changed, every stage `dvc repro` would run) after `changes`; restores params.yaml."""
    params_file = repo / "params.yaml"
    original = params_file.read_text()
    try:
        for key, value in changes.items():
            set_param(params_file, key, value)
        status = json.loads(dvc("status", "--json", cwd=repo).stdout or "{}")
        dry = dvc("repro", "--dry", "--force-downstream", cwd=repo).stdout
    finally:
        params_file.write_text(original)
    would_run = {line.split("'")[1] for line in dry.splitlines() if line.startswith("Running stage '")}
    return set(status), would_run
