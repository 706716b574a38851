"""Clean/dedupe throughput and peak memory on generated reranker rows (issue target: ≥ 200,000 rows/s,
memory that does not grow with the number of rows beyond the two 64-bit hashes kept per row).

Each run happens in a fresh subprocess so its peak RSS (parent + worker processes) is its own.
Baseline in the same run: the same clean with one worker process.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson

TARGET_ROWS_PER_S = 200_000

_RUN = """
import json, resource, sys, time
from medtune.data.clean import clean_files
t = time.perf_counter()
r = clean_files("reranker", [sys.argv[1]], sys.argv[2], sys.argv[3], workers=int(sys.argv[4]))
dt = time.perf_counter() - t
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"seconds": dt, "read": r.read, "valid": r.valid, "duplicates": r.duplicates, "rejected": r.rejected,
                  "peak_rss_mib": round((own + kids) / 1024, 1)}))
"""


def write_rows(path: Path, n: int, seed: int = 0) -> None:
    """`n` reranker lines: distinct rows built from a generated pool, ~3% duplicates, ~0.5% bad rows."""
    from medtune.sample import generate

    pool = generate("reranker", 5000, seed=seed)
    rng = random.Random(seed)
    with path.open("wb") as fh:
        for i in range(n):
            r = pool[i % len(pool)]
            roll = rng.random()
            if roll < 0.03:
                fh.write(orjson.dumps(pool[rng.randrange(len(pool))]) + b"\n")  # a duplicate of a pool row
            elif roll < 0.035:
                fh.write(b'{"patient_text": "truncated\n')
            else:
                row = {"patient_text": r["patient_text"], "criterion": f"{r['criterion']} (site {i})", "label": r["label"], "group": r["group"]}
                fh.write(orjson.dumps(row) + b"\n")


def _clean(src: Path, workdir: Path, workers: int) -> dict:
    out = subprocess.run([sys.executable, "-c", _RUN, str(src), str(workdir / "out.jsonl"), str(workdir / "q.jsonl"), str(workers)],
                         capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["rows_per_s"] = round(result["read"] / result["seconds"])
    return result


def bench_clean(rows: int = 1_000_000, small: int = 100_000) -> dict:
    import os

    workers = min(os.cpu_count() or 1, 8)
    with tempfile.TemporaryDirectory(prefix="medtune-bench-clean-") as tmp:
        tmp = Path(tmp)
        big, little = tmp / "big.jsonl", tmp / "small.jsonl"
        write_rows(big, rows)
        write_rows(little, small)
        parallel = _clean(big, tmp, workers)
        single = _clean(big, tmp, 1)
        small_run = _clean(little, tmp, workers)
    growth = (parallel["peak_rss_mib"] - small_run["peak_rss_mib"]) * 2**20 / (rows - small)
    return {
        "rows": rows,
        "workers": workers,
        "rows_per_s": parallel["rows_per_s"],
        "rows_per_s_one_worker": single["rows_per_s"],
        "speedup_vs_one_worker": round(parallel["rows_per_s"] / single["rows_per_s"], 2),
        "target_rows_per_s": TARGET_ROWS_PER_S,
        "meets_target": parallel["rows_per_s"] >= TARGET_ROWS_PER_S,
        "peak_rss_mib": parallel["peak_rss_mib"],
        f"peak_rss_mib_at_{small}_rows": small_run["peak_rss_mib"],
        "rss_bytes_per_extra_row": round(growth, 1),
        "valid": parallel["valid"], "duplicates": parallel["duplicates"], "rejected": parallel["rejected"],
    }
