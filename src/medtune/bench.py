"""`make bench` / `medtune bench`: speed and memory figures → metrics/bench.json.

Targets live here, not in tests: each benchmark measures its figure against a baseline *in the same run*
(so a slower or busier machine shifts both) and records the target next to it. Each entry of BENCHMARKS
names a function returning a flat dict; `--only` runs a subset and merges into the existing file.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time
from pathlib import Path

from medtune.io import read_json, write_json

BENCH_FILE = Path("metrics/bench.json")
BENCHMARKS: dict[str, str] = {
    "clean": "medtune.data.bench_clean:bench_clean",
    "sft": "medtune.bench_sft:bench_sft",
    "ner": "medtune.bench_ner:bench_ner",
    "nli": "medtune.bench_nli:bench_nli",
    "generation": "medtune.serve.bench_generation:bench_generation",
    "pipeline": "medtune.bench_pipeline:bench_pipeline",
}


def run(names: list[str], out: Path = BENCH_FILE) -> dict:
    from rich.table import Table

    from medtune.console import console

    results = read_json(out) if out.exists() else {}
    for name in names:
        module, func = BENCHMARKS[name].split(":")
        try:
            bench = getattr(importlib.import_module(module), func)
        except ModuleNotFoundError as exc:
            if exc.name == module:
                console.print(f"[yellow]bench {name}: not available yet ({module} missing)[/]")
                continue
            raise
        console.rule(f"bench: {name}")
        started = time.perf_counter()
        results[name] = bench() | {"bench_seconds": round(time.perf_counter() - started, 1)}
        write_json(out, results | {"_machine": _machine()})  # after each benchmark: partial results survive
    table = Table(title=str(out))
    for column in ("benchmark", "figure", "value"):
        table.add_column(column)
    for name, figures in results.items():
        if name.startswith("_"):
            continue
        for key, value in figures.items():
            table.add_row(name, key, json.dumps(value))
    console.print(table)
    return results


def _machine() -> dict:
    import os

    return {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("bench", help="run the benchmarks and write metrics/bench.json",
                              description=f"Benchmarks: {', '.join(BENCHMARKS)}. Each reports its figure against a same-run baseline.")
    p.add_argument("--only", action="append", choices=sorted(BENCHMARKS), help="run only these (repeatable); merges into the file")
    p.add_argument("--out", type=Path, default=BENCH_FILE)
    p.set_defaults(func=lambda args: run(args.only or list(BENCHMARKS), args.out) and 0)


def main(argv: list[str] | None = None) -> int:
    from medtune.console import setup_logging

    setup_logging()
    parser = argparse.ArgumentParser(prog="python -m medtune.bench")
    sub = parser.add_subparsers(dest="cmd")
    register(sub)
    args = parser.parse_args(["bench", *(argv if argv is not None else sys.argv[1:])])
    args.func(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
