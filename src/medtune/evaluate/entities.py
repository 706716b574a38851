"""Entity (and relation) precision / recall / F1, micro and macro over labels, with document-bootstrap CIs.

Generic on purpose (the GLiNER2 task and seed 002's chemical/disease extraction share it): a document's
gold and predicted annotations are *sets of tuples whose first element is the label*, e.g.
`("drug", 10, 19)` for exact spans, `("drug", "metformin")` for normalized surfaces, or
`("targets", "erlotinib", "egfr")` for relations. A prediction is correct when its whole tuple is in the
gold set of the same document. sklearn's P/R/F1 work on aligned label vectors, not on sets of spans, so
the counting is done here (a few lines of numpy); the CIs come from `evaluate.stats.bootstrap_ci`.
"""

from __future__ import annotations

from typing import Collection, Iterable, Sequence

import numpy as np

from medtune.evaluate.stats import bootstrap_ci
from medtune.text import normalize_surface

Item = tuple  # (label, ...)


def exact_items(mentions: Iterable[dict]) -> set[Item]:
    """(label, start, end) per mention; mentions are dicts with label/start/end."""
    return {(m["label"], m["start"], m["end"]) for m in mentions}


def normalized_items(mentions: Iterable[dict]) -> set[Item]:
    """(label, normalized surface) per mention: NFKC, casefold, whitespace, trailing punctuation
    (`text.normalize_surface`). Works for predictions without offsets too (surface-only outputs)."""
    return {(m["label"], normalize_surface(m["text"])) for m in mentions if normalize_surface(m["text"])}


def relation_items(relations: Iterable[dict]) -> set[Item]:
    """(relation, normalized head, normalized tail)."""
    return {(r["label"], normalize_surface(r["head"]), normalize_surface(r["tail"])) for r in relations}


def prf(tp: float, fp: float, fn: float) -> tuple[float, float, float]:
    """Precision, recall, F1; 0 where undefined (no predictions / no gold), the usual NER convention."""
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


class EntityCounts:
    """Per-document, per-label true positive / false positive / false negative counts.

    Stored as arrays of shape (documents, labels) so a bootstrap resample is a sum over row indices."""

    def __init__(self, gold: Sequence[Collection[Item]], pred: Sequence[Collection[Item]], labels: Sequence[str] | None = None):
        if len(gold) != len(pred):
            raise ValueError(f"{len(gold)} gold documents but {len(pred)} predicted")
        found = sorted({item[0] for doc in (*gold, *pred) for item in doc})
        self.labels = list(labels) + [l for l in found if l not in labels] if labels else found
        index = {label: i for i, label in enumerate(self.labels)}
        shape = (len(gold), len(self.labels))
        self.tp, self.fp, self.fn = np.zeros(shape), np.zeros(shape), np.zeros(shape)
        for d, (g, p) in enumerate(zip(gold, pred)):
            g, p = set(g), set(p)
            for item in g & p:
                self.tp[d, index[item[0]]] += 1
            for item in p - g:
                self.fp[d, index[item[0]]] += 1
            for item in g - p:
                self.fn[d, index[item[0]]] += 1

    def __len__(self) -> int:
        return self.tp.shape[0]

    def _sums(self, idx: np.ndarray | None):
        if idx is None:
            return self.tp.sum(0), self.fp.sum(0), self.fn.sum(0)
        return self.tp[idx].sum(0), self.fp[idx].sum(0), self.fn[idx].sum(0)

    def micro(self, idx: np.ndarray | None = None) -> tuple[float, float, float]:
        tp, fp, fn = self._sums(idx)
        return prf(tp.sum(), fp.sum(), fn.sum())

    def macro(self, idx: np.ndarray | None = None) -> tuple[float, float, float]:
        """Unweighted mean over labels that have gold or predicted mentions (in these documents)."""
        tp, fp, fn = self._sums(idx)
        scores = [prf(t, p, n) for t, p, n in zip(tp, fp, fn) if t + p + n > 0]
        if not scores:
            return 0.0, 0.0, 0.0
        return tuple(float(np.mean(column)) for column in zip(*scores))

    def per_label(self) -> dict[str, dict[str, float]]:
        tp, fp, fn = self._sums(None)
        out = {}
        for i, label in enumerate(self.labels):
            precision, recall, f1 = prf(tp[i], fp[i], fn[i])
            out[label] = {"precision": precision, "recall": recall, "f1": f1, "support": int(tp[i] + fn[i])}
        return out


def score(
    gold: Sequence[Collection[Item]],
    pred: Sequence[Collection[Item]],
    labels: Sequence[str] | None = None,
    resamples: int = 1000,
    seed: int = 42,
    per_label: bool = True,
) -> dict:
    """Micro and macro P/R/F1 with 95% CIs (documents resampled) and, optionally, a per-label breakdown.

    Returns a nested dict: {"micro_f1", "micro_f1_ci": [lo, hi], "micro_precision", ..., "macro_f1",
    "macro_f1_ci", "documents", "gold", "predicted", "per_label": {label: {...}}}."""
    counts = EntityCounts(gold, pred, labels)
    micro_p, micro_r, micro_f = counts.micro()
    macro_p, macro_r, macro_f = counts.macro()
    result = {
        "micro_precision": micro_p,
        "micro_recall": micro_r,
        "micro_f1": micro_f,
        "macro_precision": macro_p,
        "macro_recall": macro_r,
        "macro_f1": macro_f,
        "documents": len(counts),
        "gold": int(counts.tp.sum() + counts.fn.sum()),
        "predicted": int(counts.tp.sum() + counts.fp.sum()),
    }
    if resamples > 0:
        result["micro_f1_ci"] = list(bootstrap_ci(lambda idx: counts.micro(idx)[2], len(counts), resamples, seed))
        result["macro_f1_ci"] = list(bootstrap_ci(lambda idx: counts.macro(idx)[2], len(counts), resamples, seed))
    if per_label:
        result["per_label"] = counts.per_label()
    return result


def paired_f1_delta_ci(
    gold: Sequence[Collection[Item]],
    pred_a: Sequence[Collection[Item]],
    pred_b: Sequence[Collection[Item]],
    resamples: int = 1000,
    seed: int = 42,
) -> list[float]:
    """95% CI of micro-F1(a) - micro-F1(b) on the same document resamples: "does a really beat b?"."""
    a, b = EntityCounts(gold, pred_a), EntityCounts(gold, pred_b)
    return list(bootstrap_ci(lambda idx: a.micro(idx)[2] - b.micro(idx)[2], len(a), resamples, seed))
