"""`medtune` console script.

Each concern registers its own subcommands (`register(subparsers)` in `<module>.commands`), and imports
its heavy dependencies (torch, peft, transformers) inside the command body, so `medtune --help` and
`medtune validate` start in well under a second.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from medtune.config import ConfigError
from medtune.io import InputError

# Modules that contribute subcommands; each defines `register(subparsers)`.
COMMAND_MODULES = (
    "medtune.data.commands",
    "medtune.train.commands",
    "medtune.evaluate.commands",
    "medtune.serve.commands",
    "medtune.serve.predict",
    "medtune.serve.server",
    "medtune.ner.commands",
    "medtune.bench",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="medtune",
        description="Fine-tune and evaluate clinical-trial-matching models (see README.md; pipelines run with `dvc repro`).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # concern not built yet
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    from medtune.console import print_error, setup_logging

    setup_logging()
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ConfigError, InputError) as exc:
        print_error(exc)
        return 2


if __name__ == "__main__":
    sys.exit(main())
