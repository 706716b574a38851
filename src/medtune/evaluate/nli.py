"""NLI evaluation: accuracy and macro F1 on the test split with 95% bootstrap CIs, next to three references.

- the untuned base: the same encoder with a freshly initialised (seeded) head — what training starts from;
- majority class: scikit-learn's `DummyClassifier` fit on the training labels;
- hypothesis-only: TF-IDF + logistic regression trained on training *hypotheses alone*. NLI data is known to
  leak the label through hypothesis wording (Gururangan et al., 2018, "Annotation Artifacts in NLI Data"); a
  model that does not beat this baseline has learnt the artefact, not inference.
Deltas against each reference use a paired bootstrap (same resampled items for both systems).
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

import numpy as np

from medtune.evaluate.stats import bootstrap_ci, paired_bootstrap_delta
from medtune.train.nli import ID2LABEL, NLI_LABELS, read_nli_rows

log = logging.getLogger(__name__)
LABEL_IDS = list(range(len(NLI_LABELS)))


# ---- metrics ---------------------------------------------------------------------------------------------


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from sklearn.metrics import accuracy_score

    return float(accuracy_score(y_true, y_pred))


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Macro F1 over all three labels, also those absent from a resample (zero_division=0 scores them 0)."""
    from sklearn.metrics import f1_score

    return float(f1_score(y_true, y_pred, labels=LABEL_IDS, average="macro", zero_division=0))


METRICS = {"accuracy": accuracy, "macro_f1": macro_f1}


def score_system(y_true, y_pred, prefix: str, resamples: int, seed: int) -> dict:
    """`{prefix}accuracy`, `{prefix}accuracy_ci_low/high`, same for macro_f1 (flat keys for dvc metrics)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    out = {}
    for name, fn in METRICS.items():
        out[f"{prefix}{name}"] = fn(y_true, y_pred)
        low, high = bootstrap_ci(lambda idx: fn(y_true[idx], y_pred[idx]), len(y_true), resamples, seed)
        out[f"{prefix}{name}_ci_low"], out[f"{prefix}{name}_ci_high"] = low, high
    return out


def paired_deltas(y_true, y_pred, y_ref, ref_name: str, resamples: int, seed: int) -> dict:
    """CI of (fine-tuned − reference) for each metric on the same resamples; low > 0 means a real improvement."""
    y_true, systems = np.asarray(y_true), (np.asarray(y_pred), np.asarray(y_ref))
    out = {}
    for name, fn in METRICS.items():
        low, high = paired_bootstrap_delta(
            lambda idx, s: fn(y_true[idx], systems[s][idx]), len(y_true), resamples, seed
        )
        out[f"delta_{name}_vs_{ref_name}_ci_low"], out[f"delta_{name}_vs_{ref_name}_ci_high"] = low, high
    return out


def per_class_report(y_true, y_pred) -> dict:
    """Flat per-label precision/recall/F1/support from scikit-learn's classification report."""
    from sklearn.metrics import classification_report

    report = classification_report(
        y_true, y_pred, labels=LABEL_IDS, target_names=list(NLI_LABELS), output_dict=True, zero_division=0
    )
    out = {}
    for label in NLI_LABELS:
        for stat in ("precision", "recall", "f1-score", "support"):
            value = report[label][stat]
            out[f"{stat.replace('-score', '')}_{label}"] = int(value) if stat == "support" else float(value)
    return out


def seen_mask(train_rows: list[dict], test_rows: list[dict]) -> np.ndarray | None:
    """True where a test row's generator templates and names all occur in training; None without `meta`.

    The sample generator keeps ≥25% of test templates/names out of training; scoring the two parts separately
    shows memorisation. The split stage's own verdict (`meta.unseen`) wins; otherwise the row's `template(s)`
    and `names` are looked up in the training rows. Real data has no `meta`: nothing to split on."""
    metas = [r.get("meta") if isinstance(r.get("meta"), dict) else None for r in test_rows]
    if not any(metas):
        return None
    if all(m is not None and isinstance(m.get("unseen"), bool) for m in metas):
        return np.asarray([not m["unseen"] for m in metas], dtype=bool)

    def vocabulary(meta: dict | None) -> tuple[set, set]:
        meta = meta or {}
        templates = set(meta.get("templates") or []) | ({meta["template"]} if meta.get("template") else set())
        return templates, set(meta.get("names") or [])

    train_templates, train_names = set(), set()
    for r in train_rows:
        templates, names = vocabulary(r.get("meta"))
        train_templates |= templates
        train_names |= names
    seen = []
    for meta in metas:
        templates, names = vocabulary(meta)
        seen.append(templates <= train_templates and names <= train_names)
    return np.asarray(seen, dtype=bool)


# ---- systems ---------------------------------------------------------------------------------------------


def majority_predictions(train_rows: list[dict], test_rows: list[dict]) -> np.ndarray:
    from sklearn.dummy import DummyClassifier

    clf = DummyClassifier(strategy="most_frequent").fit(np.zeros((len(train_rows), 1)), [r["label_id"] for r in train_rows])
    return clf.predict(np.zeros((len(test_rows), 1)))


def hypothesis_only_predictions(train_rows: list[dict], test_rows: list[dict], seed: int) -> np.ndarray:
    """TF-IDF word 1-2-grams + logistic regression on the hypothesis text alone (the premise is never seen)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    clf = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1),
        LogisticRegression(max_iter=2000, random_state=seed),
    )
    clf.fit([r["hypothesis"] for r in train_rows], [r["label_id"] for r in train_rows])
    return clf.predict([r["hypothesis"] for r in test_rows])


def classifier_predictions(model_spec: str, rows: list[dict], max_seq_len: int, batch_size: int, seed: int) -> np.ndarray:
    """Argmax label ids of a sequence classifier (a trained NLI folder, or an encoder that gets a seeded new head)."""
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    from medtune.train.nli import load_classifier, tokenized_dataset

    tokenizer, model = load_classifier(model_spec, seed)
    with tempfile.TemporaryDirectory(prefix="nli-predict-") as scratch:
        args = TrainingArguments(
            output_dir=scratch, per_device_eval_batch_size=batch_size, report_to="none", disable_tqdm=True,
            dataloader_num_workers=0, use_cpu=not _cuda(),
        )
        trainer = Trainer(model=model, args=args, data_collator=DataCollatorWithPadding(tokenizer))
        output = trainer.predict(tokenized_dataset(tokenizer, rows, max_seq_len))
    return np.argmax(output.predictions, axis=-1)


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


# ---- outputs ---------------------------------------------------------------------------------------------


def write_confusion(y_true, y_pred, json_path: Path | str | None, png_path: Path | str | None) -> None:
    """DVC `confusion` plot data (one {actual, predicted} row per test item) and a PNG for humans."""
    from medtune.io import atomic_path, write_json

    if json_path is not None:
        write_json(json_path, [{"actual": ID2LABEL[int(t)], "predicted": ID2LABEL[int(p)]} for t, p in zip(y_true, y_pred)])
    if png_path is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from sklearn.metrics import ConfusionMatrixDisplay

        display = ConfusionMatrixDisplay.from_predictions(
            y_true, y_pred, labels=LABEL_IDS, display_labels=list(NLI_LABELS), cmap="Blues", colorbar=False
        )
        display.ax_.set_title("NLI test confusion (fine-tuned)")
        display.figure_.tight_layout()
        with atomic_path(png_path) as tmp:
            display.figure_.savefig(tmp, format="png", dpi=120)
        plt.close(display.figure_)


def print_table(metrics: dict) -> None:
    """One rich table: metric | fine-tuned | 95% CI | untuned base | majority | hypothesis-only."""
    from rich.table import Table

    from medtune.console import console

    table = Table(title=f"NLI test (n={metrics['n_test']})")
    for column in ("metric", "fine-tuned", "95% CI", "untuned base", "majority", "hypothesis-only"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for name in METRICS:
        table.add_row(
            name,
            f"{metrics[name]:.3f}",
            f"[{metrics[f'{name}_ci_low']:.3f}, {metrics[f'{name}_ci_high']:.3f}]",
            f"{metrics[f'base_{name}']:.3f}",
            f"{metrics[f'majority_{name}']:.3f}",
            f"{metrics[f'hypothesis_only_{name}']:.3f} [{metrics[f'hypothesis_only_{name}_ci_low']:.3f}, "
            f"{metrics[f'hypothesis_only_{name}_ci_high']:.3f}]",
        )
    for part in ("seen", "unseen"):
        if f"accuracy_{part}" in metrics:
            table.add_row(
                f"accuracy ({part}, n={metrics[f'n_{part}']})",
                f"{metrics[f'accuracy_{part}']:.3f}",
                f"[{metrics[f'accuracy_{part}_ci_low']:.3f}, {metrics[f'accuracy_{part}_ci_high']:.3f}]",
                "", "", "",
            )
    console.print(table)
    for ref in ("base", "majority", "hypothesis_only"):
        low = metrics[f"delta_accuracy_vs_{ref}_ci_low"]
        verdict = "[green]better[/]" if low > 0 else "[bold red]NOT better[/]"
        console.print(
            f"fine-tuned vs {ref}: accuracy delta 95% CI [{low:+.3f}, {metrics[f'delta_accuracy_vs_{ref}_ci_high']:+.3f}] "
            f"→ {verdict}"
        )


# ---- entry point -----------------------------------------------------------------------------------------


def evaluate_nli(
    model_dir: Path | str,
    base_model: str,
    train_path: Path | str,
    test_path: Path | str,
    max_seq_len: int = 128,
    batch_size: int = 32,
    bootstrap: int = 1000,
    seed: int = 42,
    confusion_json: Path | str | None = None,
    confusion_png: Path | str | None = None,
    show: bool = True,
) -> dict:
    """Score the fine-tuned model in `model_dir` and its references on `test_path`; returns flat metrics."""
    started = time.perf_counter()
    train_rows, test_rows = read_nli_rows(train_path), read_nli_rows(test_path)
    y_true = np.asarray([r["label_id"] for r in test_rows])
    model_dir = Path(model_dir)
    predictions = {
        "": classifier_predictions(str(model_dir), test_rows, max_seq_len, batch_size, seed),
        "base_": classifier_predictions(base_model, test_rows, max_seq_len, batch_size, seed),
        "majority_": majority_predictions(train_rows, test_rows),
        "hypothesis_only_": hypothesis_only_predictions(train_rows, test_rows, seed),
    }
    metrics: dict = {"n_test": len(test_rows)}
    for prefix, y_pred in predictions.items():
        metrics.update(score_system(y_true, y_pred, prefix, bootstrap, seed))
        if prefix:
            metrics.update(paired_deltas(y_true, predictions[""], y_pred, prefix.rstrip("_"), bootstrap, seed))
    metrics.update(per_class_report(y_true, predictions[""]))

    mask = seen_mask(train_rows, test_rows)
    if mask is not None:
        for part, rows_mask in (("seen", mask), ("unseen", ~mask)):
            metrics[f"n_{part}"] = int(rows_mask.sum())
            if rows_mask.any():
                scored = score_system(y_true[rows_mask], predictions[""][rows_mask], "", bootstrap, seed)
                metrics[f"accuracy_{part}"] = scored["accuracy"]
                metrics[f"accuracy_{part}_ci_low"] = scored["accuracy_ci_low"]
                metrics[f"accuracy_{part}_ci_high"] = scored["accuracy_ci_high"]

    write_confusion(y_true, predictions[""], confusion_json, confusion_png)
    metrics["eval_runtime_s"] = round(time.perf_counter() - started, 2)
    if show:
        print_table(metrics)
    return metrics
