"""Reranker evaluation (metrics/eval/reranker.json): P(Yes) of the fine-tuned adapter, the untuned base and two
baselines on the test split, scored the same way (`evaluate.binary`).

Systems (flat-key prefixes):
- `` fine-tuned: base + the reranker adapter, P(Yes) from the Yes/No next-token logits (`train.scoring`);
- `base_` the untuned base, same prompt, same two tokens (what training starts from);
- `majority_` scikit-learn's `DummyClassifier(strategy="prior")` fit on the training labels: P(Yes) = the training
  share of Yes for every row (calibrated, but it cannot rank);
- `lexical_` criterion-word overlap with the patient text (`evaluate.lexical`), turned into P(Yes) by a logistic
  regression fit on the training rows (so its decision threshold is tuned on train, never on test).
CIs: bootstrap over rows (accuracy, F1, AUROC, ECE) or over patients (nDCG@10, MRR); deltas: paired bootstrap.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from medtune.evaluate import binary, common, lexical
from medtune.io import InputError, read_jsonl

log = logging.getLogger(__name__)

ROW_METRICS = {"accuracy": binary.accuracy, "f1": binary.f1, "auroc": binary.auroc, "ece": binary.expected_calibration_error}
GROUP_METRICS = (f"ndcg_at_{binary.NDCG_K}", "mrr")
HEADLINE = (*ROW_METRICS, *GROUP_METRICS)
DELTA_METRICS = ("accuracy", "f1", "auroc", *GROUP_METRICS)  # higher is better (ECE is not: no delta for it)
REFERENCES = (("untuned base", "base_"), ("majority", "majority_"), ("lexical overlap", "lexical_"))


def read_reranker_rows(path: Path | str) -> list[dict]:
    rows = read_jsonl(path)
    for number, row in enumerate(rows, start=1):
        if not all(isinstance(row.get(k), str) for k in ("patient_text", "criterion")) or row.get("label") not in ("Yes", "No"):
            raise InputError(f"{path}: row {number} needs string patient_text/criterion and label Yes|No")
    return rows


def pairs_of(rows: Sequence[dict]) -> list[tuple[str, str]]:
    return [(r["patient_text"], r["criterion"]) for r in rows]


def labels_of(rows: Sequence[dict]) -> np.ndarray:
    return np.asarray([r["label"] == "Yes" for r in rows], dtype=int)


# ---- baselines -------------------------------------------------------------------------------------------------


def majority_p_yes(train_rows: Sequence[dict], test_rows: Sequence[dict]) -> np.ndarray:
    from sklearn.dummy import DummyClassifier

    clf = DummyClassifier(strategy="prior").fit(np.zeros((len(train_rows), 1)), labels_of(train_rows))
    return clf.predict_proba(np.zeros((len(test_rows), 1)))[:, list(clf.classes_).index(1)]


def lexical_p_yes(train_rows: Sequence[dict], test_rows: Sequence[dict], seed: int) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(random_state=seed).fit(lexical.overlap_features(pairs_of(train_rows)), labels_of(train_rows))
    return clf.predict_proba(lexical.overlap_features(pairs_of(test_rows)))[:, list(clf.classes_).index(1)]


# ---- scoring ---------------------------------------------------------------------------------------------------


def row_metrics(y_true: np.ndarray, p_yes: np.ndarray) -> dict:
    """Index metrics for resampling (numpy formulas, equal to scikit-learn's; see `binary`)."""
    return common.label_metrics(y_true, np.asarray(p_yes, dtype=float), binary.RESAMPLE_METRICS)


def point_values(y_true: np.ndarray, p_yes: np.ndarray) -> dict:
    """The reported values, from scikit-learn."""
    return {name: fn(np.asarray(y_true), np.asarray(p_yes, dtype=float)) for name, fn in ROW_METRICS.items()}


def group_metrics(groups: list[np.ndarray], y_true: np.ndarray, p_yes: np.ndarray) -> dict:
    per_group = binary.per_group_ranking(groups, y_true, p_yes)
    return {name: (lambda idx, values=values: float(values[idx].mean()) if len(idx) else float("nan"))
            for name, values in per_group.items()}


def score_reranker(y_true: np.ndarray, groups: Sequence[str], systems: dict[str, np.ndarray], resamples: int, seed: int,
                   digits: int = 4) -> dict:
    """Flat metrics of every system (prefix -> P(Yes)) and paired deltas of the fine-tuned one ('' prefix)."""
    ranked = binary.rankable_groups(groups, y_true)
    metrics: dict = {"n_test": int(len(y_true)), "n_yes": int(np.sum(y_true)), "n_ranked_groups": len(ranked)}
    row_fns = {prefix: row_metrics(y_true, p) for prefix, p in systems.items()}
    group_fns = {prefix: group_metrics(ranked, y_true, p) for prefix, p in systems.items()}
    for prefix in systems:
        metrics.update(common.score_metrics(row_fns[prefix], len(y_true), prefix, resamples, seed, digits=digits,
                                            point=point_values(y_true, systems[prefix])))
        if ranked:
            metrics.update(common.score_metrics(group_fns[prefix], len(ranked), prefix, resamples, seed, digits=digits))
    for prefix in systems:
        if not prefix:
            continue
        ref = prefix.rstrip("_")
        row_names = [n for n in DELTA_METRICS if n in ROW_METRICS]
        metrics.update(common.paired_deltas(row_fns[""], row_fns[prefix], ref, len(y_true), resamples, seed, row_names, digits))
        if ranked:
            metrics.update(common.paired_deltas(group_fns[""], group_fns[prefix], ref, len(ranked), resamples, seed,
                                                GROUP_METRICS, digits))
    return metrics


# ---- plots -----------------------------------------------------------------------------------------------------


def write_plots(y_true: np.ndarray, systems: dict[str, np.ndarray], out_dir: Path | str, names: dict[str, str]) -> None:
    """DVC plot data for the fine-tuned model (confusion rows, ROC points, reliability bins) and PNGs comparing
    every system (ROC curves; reliability diagram)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_curve

    from medtune.io import atomic_path, write_json

    out = Path(out_dir)
    ours = systems[""]
    label = {1: "Yes", 0: "No"}
    write_json(out / "reranker_confusion.json",
               [{"actual": label[int(t)], "predicted": label[int(p >= 0.5)]} for t, p in zip(y_true, ours)])
    fpr, tpr, thresholds = roc_curve(y_true, ours)
    write_json(out / "reranker_roc.json", [{"fpr": float(f), "tpr": float(t), "threshold": float(min(th, 1.0))}
                                           for f, t, th in zip(fpr, tpr, thresholds)])
    write_json(out / "reranker_calibration.json", binary.calibration_bins(y_true, ours))

    fig, (roc_ax, cal_ax) = plt.subplots(1, 2, figsize=(10, 4.5))
    for prefix, p_yes in systems.items():
        f, t, _ = roc_curve(y_true, p_yes)
        roc_ax.plot(f, t, label=f"{names[prefix]} (AUROC {binary.auroc(y_true, p_yes):.3f})")
        bins = binary.calibration_bins(y_true, p_yes)
        cal_ax.plot([b["mean_p_yes"] for b in bins], [b["observed_yes"] for b in bins], marker="o",
                    label=f"{names[prefix]} (ECE {binary.expected_calibration_error(y_true, p_yes):.3f})")
    roc_ax.plot([0, 1], [0, 1], ls=":", color="grey")
    roc_ax.set(title="Reranker ROC (test)", xlabel="false positive rate", ylabel="true positive rate")
    cal_ax.plot([0, 1], [0, 1], ls=":", color="grey")
    cal_ax.set(title=f"Calibration of P(Yes), {binary.ECE_BINS} bins", xlabel="mean P(Yes)", ylabel="observed share of Yes")
    roc_ax.legend(fontsize=8)
    cal_ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(out / "reranker_curves.png") as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


# ---- entry point -----------------------------------------------------------------------------------------------


def evaluate_reranker(
    adapter: Path | str,
    base_model: str,
    train_path: Path | str,
    test_path: Path | str,
    max_seq_len: int = 384,
    backend: str = "transformers",
    batch_size: int = 16,
    max_test_rows: int = 0,
    bootstrap: int = 1000,
    seed: int = 42,
    plots_dir: Path | str | None = None,
    predictions_path: Path | str | None = None,
    show: bool = True,
) -> dict:
    """Score the adapter, the untuned base, the majority prior and the lexical baseline; returns flat metrics."""
    from medtune.evaluate.generation import open_backend

    started = time.perf_counter()
    train_rows, test_rows = read_reranker_rows(train_path), read_reranker_rows(test_path)
    if max_test_rows:
        test_rows = test_rows[:max_test_rows]
    if not test_rows:
        raise InputError(f"{test_path}: no test rows")
    engine = open_backend(backend, base_model, {"reranker": adapter})
    pairs = pairs_of(test_rows)
    systems = {
        "": np.asarray(engine.yes_probabilities(pairs, max_seq_len, "reranker", batch_size)),
        "base_": np.asarray(engine.yes_probabilities(pairs, max_seq_len, None, batch_size)),
    }
    engine.close()
    scoring_seconds = time.perf_counter() - started
    systems["majority_"] = majority_p_yes(train_rows, test_rows)
    systems["lexical_"] = lexical_p_yes(train_rows, test_rows, seed)

    y_true, groups = labels_of(test_rows), [str(r.get("group", r.get("id", i))) for i, r in enumerate(test_rows)]
    metrics = score_reranker(y_true, groups, systems, bootstrap, seed)
    headline = row_metrics(y_true, systems[""])
    metrics.update(common.seen_unseen(common.seen_mask(test_rows, train_rows),
                                      {k: headline[k] for k in ("accuracy", "auroc")}, bootstrap, seed, digits=4))
    if plots_dir is not None:
        write_plots(y_true, systems, plots_dir, {"": "fine-tuned", **{p: n for n, p in REFERENCES}})
    if predictions_path:
        from medtune.io import write_jsonl

        write_jsonl(predictions_path, [
            {"id": r.get("id"), "group": g, "label": r["label"], **{f"{p or 'finetuned_'}p_yes": round(float(s[i]), 5)
                                                                  for p, s in systems.items()}}
            for i, (r, g) in enumerate(zip(test_rows, groups))])
    metrics["scoring_seconds"] = round(scoring_seconds, 1)
    metrics["eval_runtime_s"] = round(time.perf_counter() - started, 1)
    if show:
        print_table(metrics)
    return metrics


def print_table(metrics: dict) -> None:
    title = f"reranker test (n={metrics['n_test']} rows, {metrics.get('n_ranked_groups', 0)} ranked patients)"
    common.print_table(title, metrics, HEADLINE, REFERENCES, delta_names=("accuracy", "auroc", f"ndcg_at_{binary.NDCG_K}"))
