"""Validate, dedupe and quarantine one task's raw JSONL (the `clean` stage and `medtune validate`).

Three phases; memory stays bounded however many rows come in (rows are never held, hashes go to disk):
1. parse: each byte range of each file is parsed into canonical JSON lines (a staging file); every valid
   row's normalized input hash, label hash and position are appended to one of B bucket files chosen by
   the input hash; bad rows go straight to quarantine. Large inputs are parsed by one worker process per
   core (the stage is CPU-bound on JSON and normalization).
2. dedupe, one bucket at a time (all rows of an input share a bucket), vectorised with numpy: the first
   row of each input is kept; a later row with the same input and label is a duplicate; when an input
   appears with different labels, every row of it is rejected as `conflict` — except same-label repeats
   of the first, which stay duplicates. Only the positions of dropped rows are remembered.
3. write: the staging files are copied to the output in order, skipping the dropped rows.
Peak memory is one bucket (~130k rows) plus the dropped positions, whatever the input size.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson

from medtune.data.formats import RowError, parser_for
from medtune.io import InputError, atomic_path, iter_jsonl_lines
from medtune.text import label_hash

PARALLEL_MIN_BYTES = 32 << 20  # below this, worker start-up costs more than it saves
BUCKET_BYTES = 64 << 20  # raw input per hash bucket (~130k rows of 500 bytes → 4 MB of records)
_FLUSH_ROWS = 65_536  # hash records buffered per worker before they go to the bucket files
_RECORD = np.dtype([("input", "<u8"), ("label", "<u8"), ("index", "<u8"), ("line", "<u4")])
_CHUNK_SHIFT = 40  # record index = chunk number << 40 | row number within the chunk
KEEP, DUPLICATE, CONFLICT = 0, 1, 2


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
    """Phase-1 result of one byte range."""

    index: int
    source: str
    staged: str  # canonical JSON, one line per valid row, in input order
    quarantine: str  # quarantine records of parse failures (line numbers relative to the range start)
    line_count: int
    read: int
    valid: int
    reasons: Counter


def _quarantine_record(source: str, line: int, reason: str, detail: str, raw: bytes) -> bytes:
    record = {"file": source, "line": line, "reason": reason, "detail": detail, "raw": raw.decode("utf-8", "replace")}
    return orjson.dumps(record) + b"\n"


class _BucketWriter:
    """Buffers (input, label, index, line) records and appends them to per-bucket files."""

    def __init__(self, workdir: str, chunk: int, buckets: int):
        self.paths = [Path(workdir, f"bucket{b}.chunk{chunk}") for b in range(buckets)]
        self.buckets = buckets
        self.rows: list[tuple[int, int, int, int]] = []

    def add(self, input_hash: int, label: int, index: int, line: int) -> None:
        self.rows.append((input_hash, label, index, line))
        if len(self.rows) >= _FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        records = np.array(self.rows, dtype=_RECORD)
        which = records["input"] % np.uint64(self.buckets)
        for b in np.unique(which):
            with self.paths[int(b)].open("ab") as fh:
                records[which == b].tofile(fh)
        self.rows.clear()


def _parse_range(task: str, source: str, start: int, end: int, entity_schema: str | None, workdir: str, index: int, buckets: int) -> _Chunk:
    """Phase 1 for bytes [start, end) of `source` (both on line boundaries). Runs in a worker process."""
    parse = parser_for(task, entity_schema)
    reasons: Counter = Counter()
    staged_path, quarantine_path = Path(workdir, f"{index}.rows"), Path(workdir, f"{index}.quarantine")
    hashes = _BucketWriter(workdir, index, buckets)
    read = valid = number = 0
    with open(source, "rb") as fh, staged_path.open("wb") as staged, quarantine_path.open("wb") as quarantine:
        fh.seek(start)
        position = start
        for raw in fh:  # iterating the file is several times faster than readline() calls
            if position >= end:
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
            hashes.add(parsed.input_hash, label_hash(parsed.label_key), (index << _CHUNK_SHIFT) | valid, number)
            valid += 1
            staged.write(orjson.dumps(parsed.row) + b"\n")
    hashes.flush()
    return _Chunk(index, source, str(staged_path), str(quarantine_path), number, read, valid, reasons)


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


def _parse_all(task: str, sources: list[Path], entity_schema: str | None, workdir: str, workers: int, buckets: int) -> list[_Chunk]:
    jobs = []
    for source in sources:
        parts = workers if source.stat().st_size >= PARALLEL_MIN_BYTES else 1
        jobs += [(task, str(source), a, b, entity_schema, workdir, len(jobs) + i, buckets) for i, (a, b) in enumerate(_byte_ranges(source, parts))]
    if workers > 1 and len(jobs) > 1:
        # fork: stage scripts have no __main__ guard, so spawn/forkserver would re-run them in each worker
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            return pool.starmap(_parse_range, jobs)
    return [_parse_range(*job) for job in jobs]


def _bucket_status(records: np.ndarray) -> np.ndarray:
    """KEEP / DUPLICATE / CONFLICT per record; `records` are in input order (chunk, then row)."""
    order = np.argsort(records["input"], kind="stable")  # stable: input order inside each input group
    inputs, labels = records["input"][order], records["label"][order]
    starts = np.flatnonzero(np.r_[True, inputs[1:] != inputs[:-1]])
    group_of = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(order)]))
    same_as_first = labels == labels[starts][group_of]
    conflicted = np.zeros(len(starts), dtype=bool)
    np.logical_or.at(conflicted, group_of, ~same_as_first)
    first = np.zeros(len(order), dtype=bool)
    first[starts] = True
    status_sorted = np.where(first, np.where(conflicted[group_of], CONFLICT, KEEP), np.where(same_as_first, DUPLICATE, CONFLICT))
    status = np.empty(len(order), dtype=np.int8)
    status[order] = status_sorted
    return status


def _dedupe(workdir: str, chunks: list[_Chunk], buckets: int) -> tuple[dict[int, set[int]], list[tuple[int, int]], int, int]:
    """Phase 2, bucket by bucket. Returns the dropped row numbers per chunk, the (chunk, line) of every
    conflict, and the duplicate and conflict counts."""
    dropped: dict[int, set[int]] = {}
    conflicts: list[tuple[int, int]] = []
    duplicates = 0
    for b in range(buckets):
        parts = [Path(workdir, f"bucket{b}.chunk{c.index}") for c in chunks]
        parts = [np.fromfile(p, dtype=_RECORD) for p in parts if p.exists()]
        if not parts:
            continue
        records = np.concatenate(parts)
        status = _bucket_status(records)
        for record, state in zip(records[status != KEEP], status[status != KEEP]):
            chunk, row = int(record["index"]) >> _CHUNK_SHIFT, int(record["index"]) & ((1 << _CHUNK_SHIFT) - 1)
            dropped.setdefault(chunk, set()).add(row)
            if state == CONFLICT:
                conflicts.append((chunk, int(record["line"])))
            else:
                duplicates += 1
    return dropped, conflicts, duplicates, len(conflicts)


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
    buckets = max(1, min(256, sum(s.stat().st_size for s in sources) // BUCKET_BYTES + 1))
    report = CleanReport(task)
    with tempfile.TemporaryDirectory(prefix="medtune-clean-") as workdir:
        chunks = _parse_all(task, sources, entity_schema, workdir, workers, buckets)
        dropped, conflicts, report.duplicates, n_conflicts = _dedupe(workdir, chunks, buckets)
        for chunk in chunks:
            report.read += chunk.read
            report.reasons.update(chunk.reasons)
        if n_conflicts:
            report.reasons["conflict"] += n_conflicts
        report.rejected = sum(report.reasons.values())
        report.valid = sum(c.valid for c in chunks) - report.duplicates - n_conflicts
        with _atomic_or_null(output) as out_path, _atomic_or_null(quarantine) as q_path:
            _write_outputs(chunks, dropped, conflicts, out_path, q_path)
    return report


def _write_outputs(chunks: list[_Chunk], dropped: dict[int, set[int]], conflicts: list[tuple[int, int]],
                   out_path: Path | None, q_path: Path | None) -> None:
    """Phase 3: kept rows in input order; quarantine = parse rejects, then conflicts (raw lines re-read)."""
    line_base: dict[int, int] = {}  # chunk → line number of its first line within its file
    seen_lines: dict[str, int] = {}
    for chunk in chunks:
        line_base[chunk.index] = seen_lines.get(chunk.source, 0)
        seen_lines[chunk.source] = line_base[chunk.index] + chunk.line_count
    if out_path:
        with out_path.open("wb") as out:
            for chunk in chunks:
                skip = dropped.get(chunk.index, set())
                with open(chunk.staged, "rb") as staged:
                    if not skip:
                        shutil.copyfileobj(staged, out)
                        continue
                    for row_number, row in enumerate(staged):
                        if row_number not in skip:
                            out.write(row)
    if q_path:
        by_index = {chunk.index: chunk for chunk in chunks}
        with q_path.open("wb") as qfh:
            for chunk in chunks:
                base = line_base[chunk.index]
                with open(chunk.quarantine, "rb") as part:
                    if not base:
                        shutil.copyfileobj(part, qfh)
                        continue
                    for record in part:  # line numbers inside a later range are relative to its start
                        obj = orjson.loads(record)
                        obj["line"] += base
                        qfh.write(orjson.dumps(obj) + b"\n")
            located = sorted((by_index[c].source, line_base[c] + line) for c, line in conflicts)
            for source, number, raw in _rows_at(located):
                qfh.write(_quarantine_record(source, number, "conflict", "the same input appears with another label", raw))


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
