"""Terminal output: one rich console on stderr (stdout stays machine-readable) and a progress bar factory."""

from __future__ import annotations

import logging
import os
import sys

from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(stderr=True, soft_wrap=True)


def print_error(exc: BaseException | str) -> None:
    """`error: <message>` on stderr. The message is escaped: a path like `rows[1].jsonl` must not be eaten as rich
    markup, and the soft-wrapping console keeps it on one line, copyable, however narrow the terminal."""
    console.print(f"[bold red]error:[/] {escape(str(exc))}")


def progress(transient: bool = False) -> Progress:
    """A rich progress bar on stderr; quiet when stderr is not a terminal unless MEDTUNE_PROGRESS=1."""
    enabled = console.is_terminal or os.environ.get("MEDTUNE_PROGRESS") == "1"
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=transient,
        disable=not enabled,
    )


def setup_logging(level: int = logging.INFO) -> None:
    """rich-formatted logging for `medtune.*`; library loggers stay at WARNING so the useful lines show."""
    if any(isinstance(h, RichHandler) for h in logging.getLogger().handlers):
        return
    handler = RichHandler(console=console, show_path=False, rich_tracebacks=False, markup=False)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", handlers=[handler])
    logging.getLogger("medtune").setLevel(level)
    if not sys.warnoptions:
        logging.captureWarnings(True)
