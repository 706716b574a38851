"""Metrics of a scored yes/no decision (the reranker): classification, calibration and per-group ranking.

- accuracy, F1 (positive class Yes) and AUROC: scikit-learn, decision at P(Yes) >= 0.5. Bootstrap resamples use
  the numpy formulas in `RESAMPLE_METRICS` instead (tested equal to scikit-learn): its per-call input checks cost
  ~1.5-5 ms here, i.e. minutes for 1,000 resamples x 4 systems x paired deltas, against a 60 s stage budget;
- expected calibration error (ECE) of P(Yes): `ECE_BINS` equal-width bins over [0, 1] (the last one closed),
  ECE = sum over non-empty bins of (bin share of rows) * |share of Yes in the bin - mean P(Yes) in the bin| —
  the binning of scikit-learn's `calibration_curve(strategy="uniform")`, which has no ECE of its own;
- ranking, per group (a patient): candidates ranked by P(Yes), relevance = label Yes. nDCG@10 is scikit-learn's
  `ndcg_score(k=10)`; MRR is 1 / rank of the first Yes. Ties are averaged over every order of the tied items (as
  `ndcg_score` does), so a constant scorer gets chance-level ranking scores, not lucky ones. Groups with fewer
  than two candidates or no Yes at all have nothing to rank and are left out (`n_ranked_groups` says how many
  count). Both are averaged over groups, and their bootstrap resamples groups, not rows.
"""

from __future__ import annotations

from math import comb
from typing import Sequence

import numpy as np

ECE_BINS = 10
NDCG_K = 10


def accuracy(y_true: np.ndarray, p_yes: np.ndarray) -> float:
    from sklearn.metrics import accuracy_score

    return float(accuracy_score(y_true, p_yes >= 0.5))


def f1(y_true: np.ndarray, p_yes: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y_true, p_yes >= 0.5, zero_division=0))


def auroc(y_true: np.ndarray, p_yes: np.ndarray) -> float:
    """ROC AUC; NaN when only one class is present (a bootstrap resample skips it)."""
    from sklearn.metrics import roc_auc_score

    if len(np.unique(y_true)) < 2:
        return float("nan")
    return float(roc_auc_score(y_true, p_yes))


# ---- the same metrics as plain numpy, for bootstrap resamples --------------------------------------------------


def _accuracy_np(y_true: np.ndarray, p_yes: np.ndarray) -> float:
    return float(np.mean((p_yes >= 0.5) == (y_true == 1)))


def _f1_np(y_true: np.ndarray, p_yes: np.ndarray) -> float:
    decided, positive = p_yes >= 0.5, y_true == 1
    tp = np.sum(decided & positive)
    wrong = np.sum(decided != positive)
    return float(2 * tp / (2 * tp + wrong)) if tp + wrong else 0.0


def _auroc_np(y_true: np.ndarray, p_yes: np.ndarray) -> float:
    """Mann-Whitney form of ROC AUC (ties count half, as in roc_auc_score)."""
    from scipy.stats import rankdata

    positive = y_true == 1
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(p_yes)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def bin_edges(bins: int = ECE_BINS) -> np.ndarray:
    return np.linspace(0.0, 1.0, bins + 1)


def calibration_bins(y_true: np.ndarray, p_yes: np.ndarray, bins: int = ECE_BINS) -> list[dict]:
    """Per non-empty bin: its range, row count, mean P(Yes) and observed share of Yes (the reliability diagram)."""
    y_true, p_yes = np.asarray(y_true, dtype=float), np.asarray(p_yes, dtype=float)
    edges = bin_edges(bins)
    # np.digitize on the inner edges puts p == 1.0 into the last bin, as calibration_curve does.
    which = np.digitize(p_yes, edges[1:-1], right=False)
    out = []
    for b in range(bins):
        chosen = which == b
        if chosen.any():
            out.append({"bin_low": float(edges[b]), "bin_high": float(edges[b + 1]), "count": int(chosen.sum()),
                        "mean_p_yes": float(p_yes[chosen].mean()), "observed_yes": float(y_true[chosen].mean())})
    return out


def expected_calibration_error(y_true: np.ndarray, p_yes: np.ndarray, bins: int = ECE_BINS) -> float:
    if len(y_true) == 0:
        return float("nan")
    return float(sum(b["count"] * abs(b["observed_yes"] - b["mean_p_yes"]) for b in calibration_bins(y_true, p_yes, bins))
                 / len(y_true))


RESAMPLE_METRICS = {"accuracy": _accuracy_np, "f1": _f1_np, "auroc": _auroc_np, "ece": expected_calibration_error}


# ---- ranking ---------------------------------------------------------------------------------------------------


def reciprocal_rank(relevant: np.ndarray, scores: np.ndarray) -> float:
    """Expected 1 / rank of the first relevant item when tied scores are ordered at random.

    With g items scored above the best relevant score s*, and t items tied at s* of which r are relevant, the first
    relevant item lands at tie position j with probability C(t - j, r - 1) / C(t, r)."""
    relevant, scores = np.asarray(relevant, dtype=bool), np.asarray(scores, dtype=float)
    if not relevant.any():
        raise ValueError("no relevant item: reciprocal rank is undefined")
    best = scores[relevant].max()
    above = int((scores > best).sum())
    tied = scores == best
    t, r = int(tied.sum()), int((tied & relevant).sum())
    return float(sum(comb(t - j, r - 1) / comb(t, r) / (above + j) for j in range(1, t - r + 2)))


def ndcg_at_k(relevant: np.ndarray, scores: np.ndarray, k: int = NDCG_K) -> float:
    from sklearn.metrics import ndcg_score

    return float(ndcg_score(np.asarray(relevant, dtype=float)[None, :], np.asarray(scores, dtype=float)[None, :], k=k))


def rankable_groups(groups: Sequence[str], y_true: np.ndarray) -> list[np.ndarray]:
    """Row indices of each group with at least two candidates and at least one relevant one, in first-seen order."""
    members: dict[str, list[int]] = {}
    for i, group in enumerate(groups):
        members.setdefault(group, []).append(i)
    y_true = np.asarray(y_true, dtype=bool)
    return [np.asarray(rows) for rows in members.values() if len(rows) >= 2 and y_true[rows].any()]


def per_group_ranking(groups: list[np.ndarray], y_true: np.ndarray, scores: np.ndarray, k: int = NDCG_K) -> dict[str, np.ndarray]:
    """{"ndcg_at_10": per-group values, "mrr": per-group reciprocal ranks} (average them for the metric)."""
    y_true, scores = np.asarray(y_true, dtype=bool), np.asarray(scores, dtype=float)
    return {
        f"ndcg_at_{k}": np.asarray([ndcg_at_k(y_true[rows], scores[rows], k) for rows in groups]),
        "mrr": np.asarray([reciprocal_rank(y_true[rows], scores[rows]) for rows in groups]),
    }
