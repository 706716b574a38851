"""`make seeds`: how far a metric moves when only the training seed changes -> metrics/seed_spread.json.

The 95% bootstrap CIs of the evaluate stages measure test-set resampling noise of one trained model. Retraining
with another seed is a second noise source they do not see: measured on the sample profile, three reranker seeds on
the same data and base gave test accuracy 0.647, 0.562 and 0.609, further apart than the CIs suggest. So a
reviewer needs both: `make report` calls a change signal only when it leaves the CIs *and* exceeds the recorded seed
range of that metric.

How it runs: one DVC experiment per extra seed (`dvc exp run --temp -S ++<task>.train.seed=S evaluate-<task>`), so
only the task's training and evaluation re-run, each in a temporary copy (the workspace stays as it is). The
workspace's own run is the first seed. The spread of every numeric metric of `metrics/eval/<task>.json` (CI bounds
and timings left out) is merged into `metrics/seed_spread.json`, one entry per metrics file.

    python -m medtune.evaluate.seeds reranker --seeds 1 2       # or: make seeds TASK=reranker SEEDS="1 2"
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping

from medtune.config import ConfigError, load_params, section
from medtune.evaluate.report import CI_SUFFIXES, SEED_SPREAD, DvcError, as_number, dvc
from medtune.io import InputError, atomic_path
from medtune.ops.determinism import TIMING_KEY

# The params key that seeds a task's training without touching its data (the top-level `seed` also drives the
# sample generator and the split, so changing it would change the test set too). NLI reads only the top-level seed.
SEED_PARAMS = {
    "cot": "cot.train.seed",
    "reranker": "reranker.train.seed",
    "endpoints": "endpoints.train.seed",
    "chem-ner": "chem_ner.train.seed",
    "qa": "qa.train.seed",
    "ner": "ner.seed",
}


def experiment_name(task: str, seed: int) -> str:
    return f"seed-{task}-{seed}"


def effective_seed(params: Mapping[str, Any], key: str) -> int:
    """The seed the workspace run used: `key` when params.yaml sets it, then the shared `train.seed` for a causal-LM
    task (`config.sft_settings` reads them in that order), else the top-level `seed`."""
    fallbacks = [key] + (["train.seed"] if key.endswith(".train.seed") else []) + ["seed"]
    for candidate in fallbacks:
        value = section(params, candidate, None)  # absent or null: the next one
        if value is not None:
            return int(value)
    return 42  # params.yaml sets no seed at all: the settings dataclasses' default (config.TrainSettings.seed)


def comparable_metrics(values: Mapping[str, Any]) -> dict[str, float]:
    """Numeric metrics of one run, without CI bounds (they are intervals, not outcomes) and timings."""
    out = {}
    for key, value in values.items():
        number = as_number(value)
        if number is not None and not key.endswith(CI_SUFFIXES) and not TIMING_KEY.search(key):
            out[key] = number
    return out


def spread(runs: Mapping[int, Mapping[str, Any]]) -> dict[str, dict]:
    """seed -> metrics of that run  =>  metric -> values in seed order, min, max, range, sample std.

    Only metrics every run reports are kept; at least two runs are needed for a spread."""
    if len(runs) < 2:
        raise InputError(f"a seed spread needs at least two runs, got {len(runs)}")
    per_run = [comparable_metrics(values) for values in runs.values()]
    shared = sorted(set.intersection(*(set(m) for m in per_run)))
    out = {}
    for metric in shared:
        values = [m[metric] for m in per_run]
        out[metric] = {"values": values, "min": min(values), "max": max(values),
                       "range": round(max(values) - min(values), 6), "std": round(statistics.stdev(values), 6)}
    return out


def experiment_metrics(exp_show: list[dict], baseline_rev: str, names: Iterable[str], metrics_file: str) -> dict[str, dict]:
    """name -> metrics of `metrics_file` for the named experiments of `baseline_rev` in `dvc exp show --json`."""
    wanted = set(names)
    found: dict[str, dict] = {}
    for commit in exp_show:
        if commit.get("rev") != baseline_rev:
            continue
        for experiment in commit.get("experiments") or ():
            for rev in experiment.get("revs") or ():
                name = rev.get("name") or experiment.get("name")
                if name not in wanted:
                    continue
                files = ((rev.get("data") or {}).get("metrics") or {})
                if metrics_file not in files or "data" not in files[metrics_file]:
                    raise DvcError(f"experiment {name}: no {metrics_file} in its metrics (did the stage fail?)")
                found[name] = files[metrics_file]["data"]
    missing = sorted(wanted - found.keys())
    if missing:
        raise DvcError(f"experiments {missing} not found on {baseline_rev[:8]} (`dvc exp show` lists the ones that ran)")
    return found


def run_seeds(task: str, seeds: list[int], param: str, stage: str, cwd: Path | str = ".") -> None:
    """One `dvc exp run --temp` per seed: only the stages the seed changes re-run (upstream outputs are checked out
    from the cache). A same-named experiment of this commit is removed first: `dvc exp run -f` would replace it, but
    `-f` also forces every upstream stage to re-run (measured: fetch to build-base again, +2 min per seed)."""
    from medtune.console import console

    existing = set(dvc("exp", "list", "--name-only", cwd=cwd).split())
    for seed in seeds:
        name = experiment_name(task, seed)
        if name in existing:
            dvc("exp", "remove", name, cwd=cwd)
        args = ["exp", "run", "--temp", "-n", name, "-S", f"++{param}={seed}", stage]
        console.print(f"[bold]seed {seed}[/]: dvc {' '.join(args)}")
        # not captured: the stages' own progress bars are the progress of this (minutes-long) command. Stage commands
        # call `python`: make it this environment's, as `make` does, also when this module is run directly.
        env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
        result = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, env=env)
        if result.returncode != 0:
            raise DvcError(f"dvc {' '.join(args)} failed (exit {result.returncode}); its output is above")


def _head(cwd: Path) -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def seed_spread(task: str, seeds: list[int], param: str | None = None, stage: str | None = None,
                metrics_file: str | None = None, out: Path | str = SEED_SPREAD, cwd: Path | str = ".", run: bool = True) -> dict:
    """Run (unless `run` is False: reuse finished experiments) and record the spread; returns this file's entry."""
    cwd = Path(cwd)
    param = param or SEED_PARAMS.get(task)
    if param is None:
        raise InputError(f"task {task!r} has no task-scoped seed param (known: {sorted(SEED_PARAMS)}); pass --param")
    stage = stage or f"evaluate-{task}"
    metrics_file = metrics_file or f"metrics/eval/{task}.json"
    pending = json.loads(dvc("status", stage, "--json", cwd=cwd) or "{}")
    if pending:
        raise DvcError(f"the workspace run of {stage} is not up to date ({sorted(pending)}): `dvc repro {stage}` first, "
                       "so its metrics are the first seed")
    params = load_params(cwd / "params.yaml")
    first = effective_seed(params, param)
    extra = [s for s in dict.fromkeys(seeds) if s != first]
    if not extra:
        raise InputError(f"--seeds must name at least one seed other than the workspace's ({first})")
    baseline = _head(cwd)  # experiments hang off the commit they started from
    if run:
        run_seeds(task, extra, param, stage, cwd)
        if _head(cwd) != baseline:
            raise DvcError(f"HEAD moved from {baseline[:8]} during the runs; the experiments are on {baseline[:8]}: "
                           f"check it out and collect them with --no-run")
    exps = experiment_metrics(json.loads(dvc("exp", "show", "--json", "--no-fetch", "--rev", baseline, cwd=cwd)), baseline,
                              [experiment_name(task, s) for s in extra], metrics_file)
    runs = {first: json.loads((cwd / metrics_file).read_text())}
    runs |= {s: exps[experiment_name(task, s)] for s in extra}
    entry = {"task": task, "param": param, "seeds": list(runs), "metrics": spread(runs)}
    target = cwd / out
    recorded = json.loads(target.read_text()) if target.exists() else {}
    recorded[metrics_file] = entry
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(recorded, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return entry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m medtune.evaluate.seeds", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", help=f"task whose training seed varies ({', '.join(SEED_PARAMS)})")
    parser.add_argument("--seeds", type=int, nargs="+", required=True, help="extra training seeds (the workspace run is the first)")
    parser.add_argument("--param", help="params key of the training seed (default: the task's, e.g. reranker.train.seed)")
    parser.add_argument("--stage", help="stage to re-run (default: evaluate-<task>)")
    parser.add_argument("--metrics-file", help="metrics file to compare (default: metrics/eval/<task>.json)")
    parser.add_argument("--out", type=Path, default=SEED_SPREAD, help=f"where the spread is recorded (default: {SEED_SPREAD})")
    parser.add_argument("--no-run", action="store_true", help="reuse the finished seed-<task>-<seed> experiments")
    args = parser.parse_args(argv)
    from medtune.console import console, print_error

    try:
        entry = seed_spread(args.task, args.seeds, args.param, args.stage, args.metrics_file, args.out, run=not args.no_run)
    except (ConfigError, DvcError, InputError) as exc:
        print_error(exc)
        return 2
    from rich.table import Table

    table = Table(title=f"{args.task}: seeds {entry['seeds']}")
    for column in ("metric", "values", "range", "std"):
        table.add_column(column)
    fixed = [metric for metric, s in entry["metrics"].items() if s["range"] == 0]
    for metric, s in entry["metrics"].items():
        if s["range"]:
            table.add_row(metric, ", ".join(f"{v:.4g}" for v in s["values"]), f"{s['range']:.4g}", f"{s['std']:.4g}")
    console.print(table)
    if fixed:  # baselines and counts do not depend on the training seed
        console.print(f"{len(fixed)} metric(s) identical across seeds: {', '.join(fixed)}")
    console.print(f"recorded in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
