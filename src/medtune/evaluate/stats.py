"""Uncertainty for every reported number: seeded percentile-bootstrap confidence intervals."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np


def bootstrap_ci(
    metric: Callable[[np.ndarray], float],
    n_items: int,
    resamples: int = 1000,
    seed: int = 42,
    alpha: float = 0.05,
) -> tuple[float, float]:
    """95% (by default) percentile CI of `metric(indices)` over resamples of item indices with replacement.

    `metric` receives an index array and computes the statistic on those items, so one helper serves
    accuracy, F1, AUROC or entity-level micro F1 (resample documents, recompute counts) alike.
    Resamples where the metric is undefined (e.g. AUROC with one class) are skipped."""
    if n_items == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        idx = rng.integers(0, n_items, size=n_items)
        try:
            value = metric(idx)
        except ValueError:
            continue
        if value is not None and not np.isnan(value):
            values.append(value)
    if not values:
        return (float("nan"), float("nan"))
    low, high = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return (float(low), float(high))


def paired_bootstrap_delta(
    metric: Callable[[np.ndarray, int], float],
    n_items: int,
    resamples: int = 1000,
    seed: int = 42,
    alpha: float = 0.05,
) -> tuple[float, float]:
    """CI of metric(idx, system=0) - metric(idx, system=1) on the *same* resamples (paired comparison)."""
    return bootstrap_ci(lambda idx: metric(idx, 0) - metric(idx, 1), n_items, resamples, seed, alpha)


def as_array(values: Sequence) -> np.ndarray:
    return np.asarray(values)
