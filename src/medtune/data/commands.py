"""Data subcommands: `medtune validate` and `medtune generate` (light imports only: they start fast)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from medtune.data.formats import PARSERS, REASONS


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "validate",
        help="check one JSONL file against a task's accepted formats (dedupe, conflicts, quarantine)",
        description=(
            "Parse every row of PATH into the task's canonical form, dedupe by normalized hash and report. "
            "Prints a summary and, as the last stdout line, one JSON object "
            '{"read", "valid", "duplicates", "rejected", "reasons"}. Exit 0 when the file was processed, '
            "2 when it cannot be read."
        ),
        epilog=f"rejection reasons: {', '.join(REASONS)}",
    )
    p.add_argument("--task", required=True, choices=sorted(PARSERS), help="task whose formats PATH must follow")
    p.add_argument("path", metavar="PATH", type=Path, help="JSONL file to validate")
    p.add_argument("--quarantine", metavar="OUT", type=Path, help="write rejected rows as {file, line, reason, detail, raw} JSONL")
    p.add_argument("--output", metavar="CLEAN", type=Path, help="also write the canonical, deduplicated rows")
    p.add_argument("--entity-schema", metavar="YAML", help="entity label schema for --task ner (default: configs/entity_schema.yaml)")
    p.set_defaults(func=validate_command)

    g = subparsers.add_parser(
        "generate",
        help="write the synthetic sample data (the offline profile's raw input) to a folder",
        description="Generate <out>/<task>/sample.jsonl with the deterministic sample generator, dirty rows included.",
    )
    g.add_argument("out", type=Path, help="output folder")
    g.add_argument("--task", action="append", choices=sorted(PARSERS), help="task(s) to generate (default: all)")
    g.add_argument("--rows", type=int, default=1000, help="clean rows per task (default: 1000)")
    g.add_argument("--seed", type=int, default=42)
    g.add_argument("--dirty-fraction", type=float, default=0.03)
    g.add_argument("--holdout-fraction", type=float, default=0.04)
    g.set_defaults(func=generate_command)


def validate_command(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from medtune.console import print_error
    from medtune.data.clean import clean_files
    from medtune.io import InputError

    out = Console()
    try:
        report = clean_files(args.task, [args.path], args.output, args.quarantine, args.entity_schema)
    except InputError as exc:
        print_error(exc)
        return 2
    table = Table(title=f"{args.path} ({args.task})")
    table.add_column("rows")
    table.add_column("count", justify="right")
    for name in ("read", "valid", "duplicates", "rejected"):
        table.add_row(name, str(getattr(report, name)))
    for reason, count in report.reasons.most_common():
        table.add_row(f"  rejected: {reason}", str(count))
    out.print(table)
    if args.quarantine:
        out.print(f"quarantined rows: {args.quarantine}")
    sys.stdout.flush()
    print(json.dumps(report.summary()), flush=True)
    return 0


def generate_command(args: argparse.Namespace) -> int:
    from medtune.console import console
    from medtune.sample import write_sample

    tasks = args.task or sorted(PARSERS)
    written = write_sample(args.out, {t: args.rows for t in tasks}, args.seed, args.dirty_fraction, args.holdout_fraction)
    for task, lines in written.items():
        console.print(f"{args.out / task / 'sample.jsonl'}: {lines} lines")
    return 0
