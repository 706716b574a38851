"""NER evaluation (metrics/eval/ner.json): the tuned GLiNER2, its untuned base and a training-split gazetteer
on the test split — entity P/R/F1 micro and macro, exact spans and normalized surfaces, per label, seen vs
unseen surfaces, relation F1 where the data has relations, 95% document-bootstrap CIs throughout."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from medtune.evaluate import entities as E
from medtune.ner.gazetteer import Gazetteer
from medtune.ner.schema import EntitySchema

log = logging.getLogger(__name__)


def trained_model_dir(output_dir: Path | str) -> Path:
    """`<output>/final` after a LoRA run, `<output>/best` after a full one."""
    for name in ("final", "best"):
        if (Path(output_dir) / name).is_dir():
            return Path(output_dir) / name
    raise FileNotFoundError(f"{output_dir}: no trained NER model (expected final/ or best/); run train-ner first")


def seen_split(docs: list[set], gazetteer: Gazetteer) -> tuple[list[set], list[set]]:
    """Normalized items whose surface occurred in training vs the rest (memorisation shows up here)."""
    seen = [{item for item in doc if item[1] in gazetteer.normalized} for doc in docs]
    unseen = [{item for item in doc if item[1] not in gazetteer.normalized} for doc in docs]
    return seen, unseen


def score_system(gold_rows: list[dict], predicted: list[list[dict]], labels: list[str], gazetteer: Gazetteer, resamples: int, seed: int) -> dict:
    gold_exact = [E.exact_items(row["entities"]) for row in gold_rows]
    gold_norm = [E.normalized_items(row["entities"]) for row in gold_rows]
    pred_exact = [E.exact_items(doc) for doc in predicted]
    pred_norm = [E.normalized_items(doc) for doc in predicted]
    result = {
        "exact": E.score(gold_exact, pred_exact, labels, resamples, seed),
        "normalized": E.score(gold_norm, pred_norm, labels, resamples, seed),
    }
    gold_seen, gold_unseen = seen_split(gold_norm, gazetteer)
    pred_seen, pred_unseen = seen_split(pred_norm, gazetteer)
    result["seen"] = E.score(gold_seen, pred_seen, labels, resamples, seed, per_label=False)
    result["unseen"] = E.score(gold_unseen, pred_unseen, labels, resamples, seed, per_label=False)
    return result


def evaluate_ner(
    test_rows: list[dict],
    train_rows: list[dict],
    model: Any,
    base_model: Any | None,
    schema: EntitySchema,
    threshold: float = 0.5,
    resamples: int = 1000,
    seed: int = 42,
    batch_size: int = 8,
) -> dict:
    """Nested results: {system: {exact|normalized|seen|unseen: scores}, "relations": ..., "delta": ...}."""
    from medtune.ner.predict import extract_entities, extract_relations

    labels = list(schema.entities)
    texts = [row["text"] for row in test_rows]
    gazetteer = Gazetteer(train_rows)
    predictions = {"gazetteer": [gazetteer.extract(text) for text in texts]}
    timings = {}
    for name, system in (("model", model), ("base", base_model)):
        if system is None:
            continue
        started = time.perf_counter()
        predictions[name] = extract_entities(system, texts, schema, threshold, batch_size)
        timings[name] = time.perf_counter() - started
    results: dict[str, Any] = {
        name: score_system(test_rows, predicted, labels, gazetteer, resamples, seed) for name, predicted in predictions.items()
    }
    results["data"] = {
        "test_documents": len(test_rows),
        "test_mentions": sum(len(row["entities"]) for row in test_rows),
        "train_surfaces": len(gazetteer),
        "unseen_mention_share": _unseen_share(test_rows, gazetteer),
    }
    results["model"]["sentences_per_second"] = len(texts) / timings["model"] if timings.get("model") else None

    # Does the model really beat the gazetteer (and its untuned base)? Paired bootstrap on the same document resamples.
    results["delta"] = {}
    modes = (("exact", E.exact_items), ("normalized", E.normalized_items))
    golds = {mode: [items(row["entities"]) for row in test_rows] for mode, items in modes}
    for reference in ("gazetteer", "base"):
        if reference not in predictions:
            continue
        for mode, items in modes:
            key = f"model_minus_{reference}_{mode}_micro_f1"
            results["delta"][key] = results["model"][mode]["micro_f1"] - results[reference][mode]["micro_f1"]
            results["delta"][f"{key}_ci"] = E.paired_f1_delta_ci(
                golds[mode], [items(d) for d in predictions["model"]], [items(d) for d in predictions[reference]], resamples, seed
            )

    relation_names = list(schema.relations) or sorted({r["label"] for row in test_rows for r in row.get("relations") or []})
    if any(row.get("relations") for row in test_rows) and relation_names:
        gold_relations = [E.relation_items(row.get("relations") or []) for row in test_rows]
        results["relations"] = {}
        for name, system in (("model", model), ("base", base_model)):
            if system is None:
                continue
            predicted = extract_relations(system, texts, relation_names, threshold, batch_size)
            results["relations"][name] = E.score(gold_relations, [E.relation_items(d) for d in predicted], relation_names, resamples, seed)
    return results


HEADLINE_METRICS = ("exact_micro_f1", "normalized_micro_f1", "exact_macro_f1")
REFERENCES = (("untuned base", "base_"), ("gazetteer", "gazetteer_"))


def headline(results: dict) -> dict:
    """The cross-task key layout (HELPERS.md; read by `medtune.evaluate.report` and `print_table`) on top of the
    nested detail: `exact_micro_f1` (+ `_ci_low/_ci_high`) for the tuned model, `base_` / `gazetteer_` prefixes
    for the references, `<metric>_seen/_unseen` (normalized surfaces seen in training or not) and
    `delta_<metric>_vs_<ref>_ci_low/high` (paired bootstrap; low > 0 = really better), `n_test`."""
    flat: dict[str, Any] = {"n_test": results["data"]["test_documents"]}
    for system, prefix in (("model", ""), ("base", "base_"), ("gazetteer", "gazetteer_")):
        if system not in results:
            continue
        for metric in HEADLINE_METRICS:
            mode, _, name = metric.partition("_")
            scores = results[system][mode]
            flat[f"{prefix}{metric}"] = scores[name]
            flat[f"{prefix}{metric}_ci_low"], flat[f"{prefix}{metric}_ci_high"] = scores[f"{name}_ci"]
            if mode == "normalized":
                for part in ("seen", "unseen"):
                    flat[f"{prefix}{metric}_{part}"] = results[system][part][name]
                    flat[f"{prefix}{metric}_{part}_ci_low"], flat[f"{prefix}{metric}_{part}_ci_high"] = results[system][part][f"{name}_ci"]
    flat["n_seen"] = results["model"]["seen"]["gold"]
    flat["n_unseen"] = results["model"]["unseen"]["gold"]
    for reference in ("gazetteer", "base"):
        for mode in ("exact", "normalized"):
            interval = results["delta"].get(f"model_minus_{reference}_{mode}_micro_f1_ci")
            if interval is not None:
                flat[f"delta_{mode}_micro_f1_vs_{reference}_ci_low"], flat[f"delta_{mode}_micro_f1_vs_{reference}_ci_high"] = interval
    return {k: (round(v, 5) if isinstance(v, float) else v) for k, v in flat.items()}


def print_report(metrics: dict) -> None:
    """The one rich table per task (shared layout), with the delta verdicts vs base and gazetteer."""
    from medtune.evaluate.common import print_table

    print_table(f"NER test (n={metrics['n_test']} documents)", metrics, list(HEADLINE_METRICS), REFERENCES,
                delta_names=["exact_micro_f1", "normalized_micro_f1"])


def _unseen_share(test_rows: list[dict], gazetteer: Gazetteer) -> float:
    mentions = [row["text"][e["start"]:e["end"]] for row in test_rows for e in row["entities"]]
    return sum(not gazetteer.seen(m) for m in mentions) / len(mentions) if mentions else 0.0


def flatten(tree: dict, prefix: str = "") -> dict:
    """Flat `a.b.c` keys for metrics/*.json; a [low, high] CI becomes `<key>_low` / `<key>_high`."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        elif isinstance(value, (list, tuple)) and len(value) == 2 and key.endswith("_ci"):
            flat[f"{name}_low"], flat[f"{name}_high"] = value
        else:
            flat[name] = value
    return {k: (round(v, 5) if isinstance(v, float) else v) for k, v in flat.items()}
