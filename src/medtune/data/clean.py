"""Validate, dedupe and quarantine one task's raw JSONL (the `clean` stage and `medtune validate`).

Three phases, streaming throughout — rows are never held in memory, only two 64-bit hashes per valid row:
1. parse: each byte range of each file is parsed into canonical JSON lines (a staging file) plus the
   normalized input hash and label hash of every valid row; bad rows go straight to quarantine. Large
   inputs are parsed by one worker process per core (the stage is CPU-bound on JSON and normalization).
2. dedupe (vectorised with numpy over the hashes): the first row of each input is kept; a later row with
   the same input and label is a duplicate; when an input appears with different labels, every row of
   it is rejected as `conflict` — except same-label repeats of the first, which stay duplicates.
3. write: the staging files are copied to the output in order, keeping only the rows phase 2 kept.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
from array import array
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson

from medtune.data.formats import RowError, parser_for
from medtune.io import InputError, atomic_path, iter_jsonl_lines
from medtune.text import label_hash

PARALLEL_MIN_BYTES = 32 << 20  # below this, worker start-up costs more than it saves


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


@dataclass
class _Chunk:
    """Phase-1 result of one byte range: staged rows, their hashes and line numbers, quarantine lines."""

    source: str
    staged: str
    quarantine: str
    input_hashes: bytes
    label_hashes: bytes
    lines: bytes  # line number (relative to the range start) of each staged row
    line_count: int
    read: int
    reasons: Counter


def _quarantine_record(source: str, line: int, reason: str, detail: str, raw: bytes) -> bytes:
    record = {"file": source, "line": line, "reason": reason, "detail": detail, "raw": raw.decode("utf-8", "replace")}
    return orjson.dumps(record) + b"\n"


def _parse_range(task: str, source: str, start: int, end: int, entity_schema: str | None, workdir: str, index: int) -> _Chunk:
    """Phase 1 for bytes [start, end) of `source` (both on line boundaries). Runs in a worker process."""
    parse = parser_for(task, entity_schema)
    inputs, labels, lines = array("Q"), array("Q"), array("L")
    reasons: Counter = Counter()
    staged_path, quarantine_path = Path(workdir, f"{index}.rows"), Path(workdir, f"{index}.quarantine")
    read = number = 0
    with open(source, "rb") as fh, staged_path.open("wb") as staged, quarantine_path.open("wb") as quarantine:
        fh.seek(start)
        position = start
        while position < end:
            raw = fh.readline()
            if not raw:
                break
            position += len(raw)
            number += 1
            raw = raw.rstrip(b"\r\n")
            if not raw.strip():
                continue
            read += 1
            try:
                obj = orjson.loads(raw)
                if not isinstance(obj, dict):
                    raise RowError("not_an_object", type(obj).__name__)
                parsed = parse(obj)
            except orjson.JSONDecodeError as exc:
                reasons["invalid_json"] += 1
                quarantine.write(_quarantine_record(source, number, "invalid_json", str(exc), raw))
                continue
            except RowError as exc:
                reasons[exc.reason] += 1
                quarantine.write(_quarantine_record(source, number, exc.reason, exc.detail, raw))
                continue
            inputs.append(parsed.input_hash)
            labels.append(label_hash(parsed.label_key))
            lines.append(number)
            staged.write(orjson.dumps(parsed.row) + b"\n")
    return _Chunk(source, str(staged_path), str(quarantine_path), inputs.tobytes(), labels.tobytes(), lines.tobytes(), number, read, reasons)


def _byte_ranges(path: Path, parts: int) -> list[tuple[int, int]]:
    """Split a file into `parts` ranges that start and end on line boundaries."""
    size = path.stat().st_size
    cuts = [0]
    with path.open("rb") as fh:
        for i in range(1, parts):
            fh.seek(max(cuts[-1], size * i // parts))
            fh.readline()  # move to the start of the next line
            cuts.append(min(fh.tell(), size))
    cuts.append(size)
    return [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]


def _parse_all(task: str, sources: list[Path], entity_schema: str | None, workdir: str, workers: int) -> list[_Chunk]:
    jobs = []
    for source in sources:
        parts = workers if source.stat().st_size >= PARALLEL_MIN_BYTES else 1
        jobs += [(task, str(source), a, b, entity_schema, workdir, len(jobs) + i) for i, (a, b) in enumerate(_byte_ranges(source, parts))]
    if workers > 1 and len(jobs) > 1:
        # fork: stage scripts have no __main__ guard, so spawn/forkserver would re-run them in each worker
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            return pool.starmap(_parse_range, jobs)
    return [_parse_range(*job) for job in jobs]


def _dedupe(chunks: list[_Chunk]) -> tuple[np.ndarray, int, int]:
    """Per staged row: 0 keep, 1 duplicate, 2 conflict (phase 2). Returns (status, duplicates, conflicts)."""
    inputs = np.frombuffer(b"".join(c.input_hashes for c in chunks), dtype=np.uint64)
    labels = np.frombuffer(b"".join(c.label_hashes for c in chunks), dtype=np.uint64)
    status = np.zeros(len(inputs), dtype=np.int8)
    if len(inputs) == 0:
        return status, 0, 0
    order = np.argsort(inputs, kind="stable")  # stable: file order inside each input group
    sorted_inputs = inputs[order]
    starts = np.flatnonzero(np.r_[True, sorted_inputs[1:] != sorted_inputs[:-1]])
    group_of = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(order)]))
    first_label = labels[order[starts]][group_of]
    same_as_first = labels[order] == first_label
    conflicted_group = np.zeros(len(starts), dtype=bool)
    np.logical_or.at(conflicted_group, group_of, ~same_as_first)
    is_first = np.zeros(len(order), dtype=bool)
    is_first[starts] = True
    in_conflict = conflicted_group[group_of]
    sorted_status = np.where(is_first, np.where(in_conflict, 2, 0), np.where(same_as_first, 1, 2)).astype(np.int8)
    status[order] = sorted_status
    return status, int((status == 1).sum()), int((status == 2).sum())


def clean_files(
    task: str,
    sources: list[Path | str],
    output: Path | str | None,
    quarantine: Path | str | None,
    entity_schema: str | None = None,
    workers: int | None = None,
) -> CleanReport:
    """Clean `sources` (one task, deduped across all of them) into canonical JSONL at `output`
    (None = count only); bad rows go to `quarantine` with the file and line they came from."""
    sources = [Path(s) for s in sources]
    for source in sources:
        if not source.is_file():
            raise InputError(f"{source}: cannot read (no such file)")
    workers = workers or min(os.cpu_count() or 1, 8)
    report = CleanReport(task)
    with tempfile.TemporaryDirectory(prefix="medtune-clean-") as workdir:
        chunks = _parse_all(task, sources, entity_schema, workdir, workers)
        status, report.duplicates, conflicts = _dedupe(chunks)
        for chunk in chunks:
            report.read += chunk.read
            report.reasons.update(chunk.reasons)
        if conflicts:
            report.reasons["conflict"] += conflicts
        report.rejected = sum(report.reasons.values())
        report.valid = int((status == 0).sum())
        with _atomic_or_null(output) as out_path, _atomic_or_null(quarantine) as q_path:
            _write_outputs(chunks, status, out_path, q_path)
    return report


def _write_outputs(chunks: list[_Chunk], status: np.ndarray, out_path: Path | None, q_path: Path | None) -> None:
    """Phase 3: kept rows in input order; quarantine = parse rejects, then conflicts (re-read raw)."""
    offset = 0
    line_base: dict[str, int] = {}
    conflicts: list[tuple[str, int]] = []
    out = out_path.open("wb") if out_path else None
    qfh = q_path.open("wb") if q_path else None
    try:
        for chunk in chunks:
            base = line_base.get(chunk.source, 0)
            lines = np.frombuffer(chunk.lines, dtype=np.uint32 if array("L").itemsize == 4 else np.uint64)
            chunk_status = status[offset : offset + len(lines)]
            offset += len(lines)
            if out:
                with open(chunk.staged, "rb") as staged:
                    for row, state in zip(staged, chunk_status):
                        if state == 0:
                            out.write(row)
            conflicts += [(chunk.source, base + int(n)) for n in lines[chunk_status == 2]]
            if qfh:
                with open(chunk.quarantine, "rb") as part:
                    if base:  # line numbers inside a later range are relative to its start
                        for record in part:
                            obj = orjson.loads(record)
                            obj["line"] += base
                            qfh.write(orjson.dumps(obj) + b"\n")
                    else:
                        shutil.copyfileobj(part, qfh)
            line_base[chunk.source] = base + chunk.line_count
        if qfh:
            for source, number, raw in _rows_at(conflicts):
                qfh.write(_quarantine_record(source, number, "conflict", "the same input appears with another label", raw))
    finally:
        if out:
            out.close()
        if qfh:
            qfh.close()


def _rows_at(locations: list[tuple[str, int]]):
    """(file, line, raw) for each location: re-reads only files holding one (conflicts are rare)."""
    wanted: dict[str, set[int]] = {}
    for source, number in locations:
        wanted.setdefault(source, set()).add(number)
    for source, numbers in wanted.items():
        for number, raw in iter_jsonl_lines(source):
            if number in numbers:
                yield source, number, raw


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

    Returns counts per task and, under "_failures", one message per task whose rejected share exceeds
    `max_reject_fraction`, naming its top reasons (all tasks run first, so every count is reported)."""
    counts: dict[str, dict] = {}
    failures = []
    for task in tasks:
        sources = sorted(Path(raw_dir, task).glob("*.jsonl"))
        if not sources:
            raise InputError(f"{Path(raw_dir, task)}: no *.jsonl files for task {task!r} (did fetch run?)")
        report = clean_files(task, sources, Path(clean_dir, f"{task}.jsonl"), Path(quarantine_dir, f"{task}.jsonl"), entity_schema)
        counts[task] = report.summary() | {"reject_fraction": round(report.reject_fraction, 4)}
        if report.reject_fraction > max_reject_fraction:
            top = ", ".join(f"{reason} ({n})" for reason, n in report.reasons.most_common(3))
            failures.append(f"{task}: {report.rejected}/{report.read} rows rejected "
                            f"({report.reject_fraction:.1%} > data.max_reject_fraction={max_reject_fraction:.1%}); "
                            f"top reasons: {top}; see {Path(quarantine_dir, f'{task}.jsonl')}")
    counts["_failures"] = failures
    return counts
