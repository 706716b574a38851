"""`make smoke`: every stage of dvc.yaml, cold, on SMOKE_PROFILE in a throwaway copy of this checkout.

It takes a few minutes on 2 cores (the sample profile's `make repro` takes ~40). Use it to check a code, params-key
or dvc.yaml change end to end before the full run. The copy gets its own git + DVC repo, so the workspace, its DVC
cache and its experiments are never touched. A smoke run's metrics check the plumbing (every stage runs and writes
its outputs), not model quality: its models are toys (a 0.11 M-parameter base) trained for a few steps.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from medtune.config import ConfigError
from medtune.ops.sandbox import DVC, SMOKE_PROFILE, command_env, deep_merge, make_pipeline_repo
from medtune.ops.scoping import set_param


@dataclass
class SmokeRun:
    repo: Path
    returncode: int
    seconds: float
    metrics_files: list[str]


def run_smoke(work: Path, settings: Sequence[tuple[str, object]] = (), targets: Sequence[str] = (),
              overrides: dict | None = None) -> SmokeRun:
    """Copy the pipeline into `work/repo` at SMOKE_PROFILE (+ `overrides`), apply `settings` like `dvc exp run -S`,
    and run `dvc repro [targets]` with its output streaming to this terminal."""
    repo = make_pipeline_repo(work / "repo", deep_merge(SMOKE_PROFILE, overrides or {}))
    for key, value in settings:
        try:
            set_param(repo / "params.yaml", key, value)
        except (KeyError, TypeError):  # TypeError: a path through a scalar, e.g. lora.r.x
            raise ConfigError(f"--set {key}={value!r}: params.yaml has no key {key}") from None
    started = time.perf_counter()
    # stdout/stderr not captured: dvc's stage-by-stage lines and each stage's progress show as they happen
    done = subprocess.run([DVC, "repro", *targets], cwd=repo, env=command_env())
    seconds = time.perf_counter() - started
    metrics = sorted(str(p.relative_to(repo)) for p in (repo / "metrics").rglob("*.json")) if (repo / "metrics").is_dir() else []
    return SmokeRun(repo, done.returncode, seconds, metrics)


def _parse_setting(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE (as in dvc exp run -S), got {text!r}")
    return key, yaml.safe_load(value)  # the YAML reading dvc applies: 32 -> int, true -> bool, a,b -> str


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make smoke", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("targets", nargs="*", help="dvc.yaml stages to reproduce (default: all, like `dvc repro`)")
    parser.add_argument("--set", "-S", dest="settings", action="append", type=_parse_setting, default=[],
                        metavar="KEY=VALUE", help="override a params.yaml key in the copy, e.g. -S lora.r=32 (repeatable)")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="build the copy in DIR and keep it (default: a temporary folder, removed after a "
                             "successful run and kept after a failed one)")
    args = parser.parse_args(argv)
    from medtune.console import console, print_error

    if args.keep and args.keep.exists() and any(args.keep.iterdir()):
        print_error(f"--keep {args.keep}: the folder is not empty")
        return 2
    work = args.keep or Path(tempfile.mkdtemp(prefix="medtune-smoke-"))
    try:
        result = run_smoke(work, args.settings, args.targets)
    except ConfigError as exc:
        print_error(exc)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        return 2
    if result.returncode:
        console.print(f"[bold red]smoke run failed[/] (dvc repro exit {result.returncode}) after {result.seconds:.0f} s; "
                      f"the copy is kept for inspection: {result.repo}")
        return result.returncode
    console.print(f"[bold green]smoke run passed[/]: dvc repro in {result.seconds:.0f} s, "
                  f"{len(result.metrics_files)} metrics files")
    if args.keep:
        console.print(f"the copy is in {result.repo} (`cd` there and `dvc metrics show`)")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
