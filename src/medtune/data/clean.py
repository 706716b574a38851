"""Validate, dedupe and quarantine one task's raw JSONL (the `clean` stage and `medtune validate`).

Streaming: rows are parsed and written one at a time; the only state that grows is one dict entry per
distinct input (64-bit normalized input hash → label hash + first line), never the rows themselves.
Identical inputs with different labels are all rejected as `conflict` — the first occurrence was already
written, so conflicts trigger one filtering pass over the (much smaller) output at the end.
"""

from __future__ import annotations

import bisect
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from medtune.data.formats import RowError, parser_for
from medtune.io import InputError, atomic_path, iter_jsonl_lines
from medtune.text import stable_hash

_POSITION_BITS = 32  # row positions are packed into the low bits of the dedupe dict's values
_POSITION_MASK = (1 << _POSITION_BITS) - 1


@dataclass
class CleanReport:
    task: str
    read: int = 0
    valid: int = 0
    duplicates: int = 0
    rejected: int = 0
    reasons: Counter = field(default_factory=Counter)

    def summary(self) -> dict:
        """The validate CLI contract: {"read", "valid", "duplicates", "rejected", "reasons"}."""
        return {
            "read": self.read,
            "valid": self.valid,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "reasons": dict(sorted(self.reasons.items())),
        }

    @property
    def reject_fraction(self) -> float:
        return self.rejected / self.read if self.read else 0.0


class _Quarantine:
    def __init__(self, path: Path | None):
        self.fh = path.open("wb") if path else None

    def add(self, source: Path, line: int, reason: str, detail: str, raw: bytes) -> None:
        if self.fh:
            record = {"file": str(source), "line": line, "reason": reason, "detail": detail, "raw": raw.decode("utf-8", "replace")}
            self.fh.write(orjson.dumps(record) + b"\n")

    def close(self) -> None:
        if self.fh:
            self.fh.close()


def clean_files(
    task: str,
    sources: list[Path | str],
    output: Path | str | None,
    quarantine: Path | str | None,
    entity_schema: str | None = None,
    on_progress=None,
) -> CleanReport:
    """Clean `sources` (one task, deduped across all of them) into canonical JSONL at `output`
    (None = count only); bad rows go to `quarantine` with the file and line they came from."""
    sources = [Path(s) for s in sources]
    for source in sources:
        if not source.is_file():
            raise InputError(f"{source}: cannot read (no such file)")
    parse = parser_for(task, entity_schema)
    report = CleanReport(task)
    # Rows are addressed by a global position (file base + line number) packed with the label hash into
    # one int per distinct input: ~100 bytes per distinct input, nothing per duplicate or rejected row.
    first_seen: dict[int, int] = {}
    conflicted: set[int] = set()
    bases: list[int] = []

    with _atomic_or_null(quarantine) as qpath, _atomic_or_null(output) as opath:
        sink = _Quarantine(qpath)
        # Kept rows are staged as "<position>\t<json>" so conflicted first occurrences can be dropped
        # at the end without re-parsing JSON.
        staged = opath.open("wb") if opath else None
        base = 0
        try:
            for source in sources:
                bases.append(base)
                number = 0
                for number, raw in iter_jsonl_lines(source):
                    report.read += 1
                    if on_progress and report.read % 50_000 == 0:
                        on_progress(report.read)
                    try:
                        obj = orjson.loads(raw)
                    except orjson.JSONDecodeError as exc:
                        _reject(report, sink, source, number, "invalid_json", str(exc), raw)
                        continue
                    if not isinstance(obj, dict):
                        _reject(report, sink, source, number, "not_an_object", type(obj).__name__, raw)
                        continue
                    try:
                        parsed = parse(obj)
                    except RowError as exc:
                        _reject(report, sink, source, number, exc.reason, exc.detail, raw)
                        continue
                    label = stable_hash(parsed.label_key) >> _POSITION_BITS
                    previous = first_seen.get(parsed.input_hash)
                    if previous is None:
                        first_seen[parsed.input_hash] = (label << _POSITION_BITS) | (base + number)
                        if staged:
                            staged.write(b"%d\t" % (base + number) + orjson.dumps(parsed.row) + b"\n")
                    elif previous >> _POSITION_BITS == label:
                        report.duplicates += 1
                    else:
                        conflicted.add(parsed.input_hash)
                        where = _locate(sources, bases, previous & _POSITION_MASK)
                        _reject(report, sink, source, number, "conflict", f"same input as {where[0]}:{where[1]} with another label", raw)
                base += number + 1
        finally:
            if staged:
                staged.close()

        conflict_positions = {first_seen[h] & _POSITION_MASK for h in conflicted}
        for source, number, raw in _rows_at(sources, bases, conflict_positions):
            _reject(report, sink, source, number, "conflict", "same input appears later with another label", raw)
        report.valid = len(first_seen) - len(conflicted)
        if opath:
            _unstage(opath, conflict_positions)
        sink.close()
    return report


def clean_file(task: str, source: Path | str, output=None, quarantine=None, entity_schema=None, on_progress=None) -> CleanReport:
    return clean_files(task, [source], output, quarantine, entity_schema, on_progress)


def _locate(sources: list[Path], bases: list[int], position: int) -> tuple[Path, int]:
    index = bisect.bisect_right(bases, position) - 1
    return sources[index], position - bases[index]


def _rows_at(sources: list[Path], bases: list[int], positions: set[int]):
    """(file, line, raw) of the rows at `positions`: re-reads only the files that hold one."""
    wanted: dict[int, set[int]] = {}
    for position in positions:
        index = bisect.bisect_right(bases, position) - 1
        wanted.setdefault(index, set()).add(position - bases[index])
    for index, lines in sorted(wanted.items()):
        for number, raw in iter_jsonl_lines(sources[index]):
            if number in lines:
                yield sources[index], number, raw


def _reject(report: CleanReport, sink: _Quarantine, source: Path, line: int, reason: str, detail: str, raw: bytes) -> None:
    report.rejected += 1
    report.reasons[reason] += 1
    sink.add(source, line, reason, detail, raw)


def _unstage(path: Path, drop_positions: set[int]) -> None:
    """Strip the staging line numbers (and conflicted rows) in place."""
    final = path.with_name(path.name + ".final")
    with path.open("rb") as src, final.open("wb") as dst:
        for staged in src:
            number, _, row = staged.partition(b"\t")
            if int(number) not in drop_positions:
                dst.write(row)
    os.replace(final, path)


class _atomic_or_null:
    """`atomic_path` when a path is given, else yields None (count-only validation)."""

    def __init__(self, path: Path | str | None):
        self.ctx = atomic_path(path) if path else None

    def __enter__(self) -> Path | None:
        return self.ctx.__enter__() if self.ctx else None

    def __exit__(self, *exc) -> bool:
        return self.ctx.__exit__(*exc) if self.ctx else False


class TooManyRejected(RuntimeError):
    pass


def clean_tasks(tasks: list[str], raw_dir: Path | str, clean_dir: Path | str, quarantine_dir: Path | str,
                max_reject_fraction: float, entity_schema: str | None = None) -> dict[str, dict]:
    """The `clean` stage: every task's raw files → canonical rows + quarantine; counts per task.

    Raises TooManyRejected (after all tasks ran, so every count is reported) naming each task whose
    rejected share exceeds `max_reject_fraction` and its top reasons."""
    from medtune.console import progress

    counts: dict[str, dict] = {}
    failures = []
    with progress() as bar:
        for task in tasks:
            sources = sorted(Path(raw_dir, task).glob("*.jsonl"))
            if not sources:
                raise InputError(f"{Path(raw_dir, task)}: no *.jsonl files for task {task!r} (did fetch run?)")
            job = bar.add_task(f"clean {task}", total=None)
            report = clean_files(task, sources, Path(clean_dir, f"{task}.jsonl"), Path(quarantine_dir, f"{task}.jsonl"),
                                 entity_schema, on_progress=lambda n, job=job: bar.update(job, completed=n))
            bar.update(job, completed=report.read, total=report.read)
            counts[task] = report.summary() | {"reject_fraction": round(report.reject_fraction, 4)}
            if report.reject_fraction > max_reject_fraction:
                top = ", ".join(f"{reason} ({n})" for reason, n in report.reasons.most_common(3))
                failures.append(f"{task}: {report.rejected}/{report.read} rows rejected "
                                f"({report.reject_fraction:.1%} > data.max_reject_fraction={max_reject_fraction:.1%}); "
                                f"top reasons: {top}; see {Path(quarantine_dir, f'{task}.jsonl')}")
    counts["_failures"] = failures
    return counts
