"""Do the two inference backends make the same reranker decisions? (issue 6: transformers vs vLLM agreement)

Both backends score the test split's (patient, criterion) pairs with the same prompt ids and the same two answer
token ids (`evaluate.generation`); the decision is P(Yes) >= 0.5 as in `evaluate.reranker`. Agreement is the share
of rows where the decisions match — for the fine-tuned adapter (`backend_agreement`, the headline) and the untuned
base (`base_backend_agreement`). Small float differences are expected (different kernels); a row disagrees only
when they straddle 0.5, so `max_abs_p_yes_diff` is reported next to the agreement to show how close that came, and
`yes_share` / `p_yes_spread` (of the reference backend) show whether the scores vary enough for agreement to mean much.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

import numpy as np

from medtune.io import InputError

REFERENCE, CANDIDATE = "transformers", "vllm"
SYSTEMS = (("", "reranker"), ("base_", None))  # (metric prefix, adapter name; None = untuned base)


def agreement_metrics(reference: Sequence[float], candidate: Sequence[float], prefix: str = "") -> dict:
    """Decision agreement and P(Yes) differences of two scorings of the same rows."""
    ref, cand = np.asarray(reference, dtype=float), np.asarray(candidate, dtype=float)
    if ref.shape != cand.shape or ref.ndim != 1 or not len(ref):
        raise ValueError(f"need two equal-length non-empty score lists, got {ref.shape} and {cand.shape}")
    agree = (ref >= 0.5) == (cand >= 0.5)
    diff = np.abs(ref - cand)
    return {
        f"{prefix}backend_agreement": round(float(agree.mean()), 6),
        f"{prefix}backend_disagreements": int((~agree).sum()),
        f"{prefix}max_abs_p_yes_diff": float(f"{diff.max():.3g}"),
        f"{prefix}mean_abs_p_yes_diff": float(f"{diff.mean():.3g}"),
        # context for the agreement: with every row decided the same way, or every P(Yes) equal, it says little
        f"{prefix}yes_share": round(float((ref >= 0.5).mean()), 6),
        f"{prefix}p_yes_spread": float(f"{ref.max() - ref.min():.3g}"),
    }


def score_with(backend: str, base_model: str, adapter: Path | str, pairs: list[tuple[str, str]], max_seq_len: int,
               batch_size: int) -> tuple[dict[str, list[float]], float]:
    """P(Yes) of every system on one backend (opened, used, closed), and the seconds it took."""
    from medtune.evaluate.generation import open_backend

    started = time.perf_counter()
    engine = open_backend(backend, base_model, {"reranker": adapter})
    try:
        scores = {prefix: engine.yes_probabilities(pairs, max_seq_len, name, batch_size) for prefix, name in SYSTEMS}
    finally:
        engine.close()
    return scores, time.perf_counter() - started


def reranker_backend_agreement(adapter: Path | str, base_model: str, test_path: Path | str, max_seq_len: int = 384,
                               batch_size: int = 16, max_test_rows: int = 0, show: bool = True) -> dict:
    """Score the test split with transformers and with vLLM; flat metrics for metrics/eval/backends.json."""
    from medtune.evaluate.reranker import pairs_of, read_reranker_rows

    rows = read_reranker_rows(test_path)
    if max_test_rows:
        rows = rows[:max_test_rows]
    if not rows:
        raise InputError(f"{test_path}: no test rows")
    pairs = pairs_of(rows)
    metrics: dict = {"n_test": len(rows)}  # numbers only: `dvc metrics diff` compares numbers
    scored = {}
    for backend in (REFERENCE, CANDIDATE):
        scored[backend], seconds = score_with(backend, base_model, adapter, pairs, max_seq_len, batch_size)
        metrics[f"{backend}_seconds"] = round(seconds, 1)  # engine start included
    for prefix, _ in SYSTEMS:
        metrics.update(agreement_metrics(scored[REFERENCE][prefix], scored[CANDIDATE][prefix], prefix))
    if show:
        print_table(metrics)
    return metrics


def print_table(metrics: dict) -> None:
    from rich.table import Table

    from medtune.console import console

    table = Table(title=f"reranker decisions, {REFERENCE} vs {CANDIDATE} (n={metrics['n_test']} test rows)")
    for column in ("model", "agreement", "disagreeing rows", "max |ΔP(Yes)|", "mean |ΔP(Yes)|", "decided Yes", "P(Yes) spread"):
        table.add_column(column)
    for prefix, label in (("", "fine-tuned"), ("base_", "untuned base")):
        table.add_row(label, f"{metrics[f'{prefix}backend_agreement']:.4f}", str(metrics[f"{prefix}backend_disagreements"]),
                      f"{metrics[f'{prefix}max_abs_p_yes_diff']:.2e}", f"{metrics[f'{prefix}mean_abs_p_yes_diff']:.2e}",
                      f"{metrics[f'{prefix}yes_share']:.1%}", f"{metrics[f'{prefix}p_yes_spread']:.3f}")
    console.print(table)
