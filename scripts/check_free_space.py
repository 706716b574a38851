#!/usr/bin/env python3
"""Refuse to start an install that the disk cannot hold, with a message that says so.

pip reports a full disk during a download as a network fault: stop 21's CI install stopped at the same byte of the
285 MB triton wheel on six resume attempts, each "Connection interrupted", and ended "This is an issue with network
connectivity, not pip". The disk was full (`pip download -v` of the same wheel: `OSError: [Errno 28] No space left
on device`). Checking first turns that into an error that names the folder and the numbers.

Usage: python3 scripts/check_free_space.py --need-gib N DIR [DIR ...]   (stdlib only: runs before the venv exists)
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path


def nearest_existing(path: Path) -> Path:
    """The folder whose filesystem a not-yet-created path will live on."""
    path = path.resolve()
    while not path.exists():
        path = path.parent
    return path


def shortfalls(folders: list[Path], need_gib: float) -> list[str]:
    """One line per folder with less than need_gib GiB free."""
    lines = []
    for folder in folders:
        free_gib = shutil.disk_usage(nearest_existing(folder)).free / 2**30
        if free_gib < need_gib:
            lines.append(f"{folder}: {free_gib:.1f} GiB free, {need_gib:g} GiB needed")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--need-gib", type=float, required=True, help="free space each folder needs, in GiB")
    parser.add_argument("folders", nargs="+", type=Path, help="folders the install writes to (venv, TMPDIR)")
    args = parser.parse_args(argv)
    lines = shortfalls(args.folders, args.need_gib)
    for line in lines:
        print(f"not enough disk space: {line}", file=sys.stderr)
    if lines:
        print("free some space (old clones, caches), or set MIN_FREE_GIB lower if you know the install fits",
              file=sys.stderr)
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
