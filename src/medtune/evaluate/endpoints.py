"""Endpoint → JSON evaluation (seed 001): JSON and schema validity, endpoint matching, per-field accuracy.

For each test row the model's output is parsed as JSON (validity), checked against the seed-001 JSON Schema with
`jsonschema` (schema validity), and its endpoints are matched one-to-one to the gold endpoints:
- similarity of two endpoints = token-set Jaccard of their normalized `endpoint_name_standardized`
  (both null = 1); the assignment maximising total similarity is found with the Hungarian algorithm
  (`scipy.optimize.linear_sum_assignment`), and a pair counts as matched when its similarity is >= 0.5;
- endpoint P/R/F1: matched pairs are true positives, unmatched predictions false positives, unmatched gold
  endpoints false negatives (micro over the test rows);
- field accuracy: per gold endpoint and field, correct when the endpoint is matched and the predicted value
  equals the gold value — *exact* (same JSON value) or *normalized* (strings via `text.normalize_surface`,
  lists as sorted normalized items, booleans/null as is). Unmatched gold endpoints score 0 on every field, so a
  model cannot gain by predicting nothing. `field_accuracy` is the mean over the eleven fields (normalized).
Systems: the fine-tuned adapter, the untuned base (same model, adapter disabled), and the most-frequent-value
baseline (one endpoint whose every field is the training split's most frequent value). With `constrained`
(`eval.endpoints.constrained`, default on) both models decode under the seed-001 JSON Schema in the training answers'
compact layout (`evaluate.constrained`): only an answer cut by `max_new_tokens` can be invalid. The adapter is then
also run free (system `free_`, paired deltas `..._vs_free`), so validity without the constraint stays measured.
CIs: seeded bootstrap over test rows; deltas: paired bootstrap.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from medtune import prompts
from medtune.data.formats import endpoint_schema_errors, endpoint_validator
from medtune.evaluate import common
from medtune.evaluate.constrained import JsonAnswer, generate_systems
from medtune.text import normalize_surface

log = logging.getLogger(__name__)

FIELDS = (
    "endpoint_name_standardized", "measurement_of", "measurement_type", "metric_type", "timeframe",
    "measurement_method", "evaluation_criteria", "unit", "population", "is_composite", "components",
)
MATCH_THRESHOLD = 0.5
HEADLINE = ("json_validity", "schema_validity", "endpoint_f1", "field_accuracy", "field_accuracy_exact")
ENDPOINT_ANSWER = JsonAnswer(endpoint_validator().schema, prompts.ENDPOINT_ANSWER_SEPARATORS)  # the schema, loaded once
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")


# ---- parsing and matching --------------------------------------------------------------------------------------


@dataclass
class ParsedOutput:
    json_valid: bool
    schema_valid: bool
    endpoints: list[dict]
    value: Any = None  # the parsed JSON value


def parse_output(output: str) -> ParsedOutput:
    """JSON validity (the text, minus a markdown fence, parses), schema validity, and the endpoint objects found."""
    try:
        value = json.loads(_FENCE.sub("", output.strip()))
    except json.JSONDecodeError:
        return ParsedOutput(False, False, [], None)
    schema_valid = not endpoint_schema_errors(value)
    items = value.get("endpoints") if isinstance(value, dict) else None
    endpoints = [e for e in items if isinstance(e, dict)] if isinstance(items, list) else []
    return ParsedOutput(True, schema_valid, endpoints, value)


def _name_tokens(endpoint: dict) -> frozenset[str] | None:
    name = endpoint.get("endpoint_name_standardized")
    return frozenset(normalize_surface(name).split()) if isinstance(name, str) else None


def name_similarity(a: dict, b: dict) -> float:
    """Token-set Jaccard of the normalized standardized names; both null = 1, one null = 0."""
    ta, tb = _name_tokens(a), _name_tokens(b)
    if ta is None or tb is None:
        return 1.0 if ta is None and tb is None else 0.0
    return len(ta & tb) / len(ta | tb) if ta | tb else 1.0


def match_endpoints(predicted: Sequence[dict], gold: Sequence[dict], threshold: float = MATCH_THRESHOLD) -> list[tuple[int, int]]:
    """(predicted index, gold index) pairs of the one-to-one assignment with the highest total name similarity,
    keeping pairs at or above `threshold`."""
    from scipy.optimize import linear_sum_assignment

    if not predicted or not gold:
        return []
    similarity = np.array([[name_similarity(p, g) for g in gold] for p in predicted])
    rows, cols = linear_sum_assignment(similarity, maximize=True)
    return [(int(r), int(c)) for r, c in zip(rows, cols) if similarity[r, c] >= threshold]


def normalized_value(value: Any) -> Any:
    if isinstance(value, str):
        return normalize_surface(value)
    if isinstance(value, list):
        return tuple(sorted(normalized_value(v) if not isinstance(v, (list, dict)) else json.dumps(v, sort_keys=True) for v in value))
    return value


def values_equal(predicted: Any, gold: Any, normalized: bool) -> bool:
    if normalized:
        return normalized_value(predicted) == normalized_value(gold)
    return type(predicted) is type(gold) and predicted == gold


# ---- per-row scores -------------------------------------------------------------------------------------------


@dataclass
class EndpointScores:
    """Per test row: validity flags, endpoint counts and per-field correct counts (so any bootstrap resample is a
    sum over rows)."""

    json_valid: np.ndarray
    schema_valid: np.ndarray
    tp: np.ndarray
    n_pred: np.ndarray
    n_gold: np.ndarray
    exact: np.ndarray  # (rows, fields)
    normalized: np.ndarray  # (rows, fields)

    @classmethod
    def from_outputs(cls, outputs: Sequence[str], gold_rows: Sequence[dict]) -> "EndpointScores":
        n = len(gold_rows)
        json_valid, schema_valid = np.zeros(n, bool), np.zeros(n, bool)
        tp, n_pred, n_gold = np.zeros(n), np.zeros(n), np.zeros(n)
        exact, normalized = np.zeros((n, len(FIELDS))), np.zeros((n, len(FIELDS)))
        for i, (output, row) in enumerate(zip(outputs, gold_rows)):
            parsed = parse_output(output)
            gold = row["output"]["endpoints"]
            json_valid[i], schema_valid[i] = parsed.json_valid, parsed.schema_valid
            pairs = match_endpoints(parsed.endpoints, gold)
            tp[i], n_pred[i], n_gold[i] = len(pairs), len(parsed.endpoints), len(gold)
            for p, g in pairs:
                for f, name in enumerate(FIELDS):
                    predicted, expected = parsed.endpoints[p].get(name), gold[g].get(name)
                    exact[i, f] += values_equal(predicted, expected, normalized=False)
                    normalized[i, f] += values_equal(predicted, expected, normalized=True)
        return cls(json_valid, schema_valid, tp, n_pred, n_gold, exact, normalized)

    def __len__(self) -> int:
        return len(self.tp)

    def metric(self, name: str, idx: np.ndarray | None = None) -> float:
        idx = np.arange(len(self)) if idx is None else idx
        if name == "json_validity":
            return float(self.json_valid[idx].mean())
        if name == "schema_validity":
            return float(self.schema_valid[idx].mean())
        tp, n_pred, n_gold = self.tp[idx].sum(), self.n_pred[idx].sum(), self.n_gold[idx].sum()
        if name == "endpoint_precision":
            return float(tp / n_pred) if n_pred else 0.0
        if name == "endpoint_recall":
            return float(tp / n_gold) if n_gold else 0.0
        if name == "endpoint_f1":
            return float(2 * tp / (n_pred + n_gold)) if n_pred + n_gold else 0.0
        if name in ("field_accuracy", "field_accuracy_exact"):
            table = self.exact if name.endswith("exact") else self.normalized
            return float(table[idx].sum() / (n_gold * len(FIELDS))) if n_gold else 0.0
        if name.startswith("field_"):  # field_<name>_accuracy (normalized) / field_<name>_exact
            exact = name.endswith("_exact")
            field = name[len("field_"):].rsplit("_", 1)[0]
            table = self.exact if exact else self.normalized
            return float(table[idx, FIELDS.index(field)].sum() / n_gold) if n_gold else 0.0
        raise KeyError(name)


def metric_names() -> list[str]:
    per_field = [f"field_{f}_{kind}" for f in FIELDS for kind in ("accuracy", "exact")]
    return [*HEADLINE, "endpoint_precision", "endpoint_recall", *per_field]


def index_metrics(scores: EndpointScores, names: Sequence[str]) -> dict:
    return {name: (lambda idx, name=name: scores.metric(name, idx)) for name in names}


def score_system(scores: EndpointScores, prefix: str, resamples: int, seed: int, ci_for: Sequence[str] = HEADLINE) -> dict:
    return common.score_metrics(index_metrics(scores, metric_names()), len(scores), prefix, resamples, seed, ci_for, digits=4)


def paired_deltas(ours: EndpointScores, ref: EndpointScores, ref_name: str, resamples: int, seed: int,
                  names: Sequence[str] = ("json_validity", "endpoint_f1", "field_accuracy")) -> dict:
    return common.paired_deltas(index_metrics(ours, names), index_metrics(ref, names), ref_name, len(ours), resamples,
                                seed, digits=4)


# ---- baseline --------------------------------------------------------------------------------------------------


def most_frequent_endpoint(train_rows: Sequence[dict]) -> dict:
    """One endpoint whose every field is the most frequent value of that field over the training endpoints
    (ties: the value seen first)."""
    counts = {field: Counter() for field in FIELDS}
    for row in train_rows:
        for endpoint in row["output"]["endpoints"]:
            for field in FIELDS:
                counts[field][json.dumps(endpoint.get(field), sort_keys=True)] += 1
    if not any(counts[FIELDS[0]].values()):
        raise ValueError("no training endpoints to take most frequent values from")
    return {field: json.loads(counts[field].most_common(1)[0][0]) for field in FIELDS}


# ---- entry point -----------------------------------------------------------------------------------------------


def evaluate_endpoints(
    adapter: Path | str,
    base_model: str,
    train_path: Path | str,
    test_path: Path | str,
    max_new_tokens: int = 384,
    batch_size: int = 16,
    max_test_rows: int = 0,
    bootstrap: int = 1000,
    seed: int = 42,
    predictions_path: Path | str | None = None,
    show: bool = True,
    backend: str = "transformers",
    constrained: bool = True,
) -> dict:
    """Score the adapter, the untuned base and the most-frequent-value baseline on the test split; flat metrics."""
    from medtune.evaluate.generation import open_backend, teacher_forced_scores
    from medtune.train.tasks import endpoints_example

    started = time.perf_counter()
    train_rows, test_rows = common.read_eval_rows(train_path, test_path, max_test_rows)
    engine = open_backend(backend, base_model, {"endpoints": adapter})
    messages = [prompts.endpoint_messages(r["text"]) for r in test_rows]
    outputs = generate_systems(engine, messages, max_new_tokens, "endpoints", batch_size,
                               ENDPOINT_ANSWER if constrained else None)
    # Teacher-forced loss needs the model's logits on the gold answer: always transformers (as in training).
    if engine.name != "transformers":
        engine.close()
        engine = open_backend("transformers", base_model, {"endpoints": adapter})
    records = [endpoints_example(r).as_record() for r in test_rows]
    teacher = {}
    for prefix, name in (("", "endpoints"), ("base_", None)):
        with engine.using(name) as model:
            teacher[prefix] = teacher_forced_scores(model, engine.tokenizer, records, batch_size)
    engine.close()
    baseline = prompts.endpoint_answer({"endpoints": [most_frequent_endpoint(train_rows)]})
    outputs["majority_"] = [baseline] * len(test_rows)

    scores = {prefix: EndpointScores.from_outputs(out, test_rows) for prefix, out in outputs.items()}
    metrics: dict = {"n_test": len(test_rows), "n_gold_endpoints": int(scores[""].n_gold.sum())}
    for prefix, system in scores.items():
        metrics.update(score_system(system, prefix, bootstrap, seed))
        if prefix:
            metrics.update(paired_deltas(scores[""], system, prefix.rstrip("_"), bootstrap, seed))
    for prefix, values in teacher.items():
        metrics.update({f"{prefix}test_{k}": v for k, v in values.items()})
    headline = index_metrics(scores[""], ("json_validity", "endpoint_f1", "field_accuracy"))
    metrics.update(common.seen_unseen(common.seen_mask(test_rows), headline, bootstrap, seed, digits=4))
    if predictions_path:
        from medtune.io import write_jsonl

        rows = [{"id": r["id"], "text": r["text"], "gold": r["output"], "prediction": o, "base_prediction": b}
                for r, o, b in zip(test_rows, outputs[""], outputs["base_"])]
        for row, free in zip(rows, outputs.get("free_", ())):
            row["free_prediction"] = free
        write_jsonl(predictions_path, rows)
    metrics["eval_runtime_s"] = round(time.perf_counter() - started, 1)
    if show:
        print_table(metrics)
    return metrics


def print_table(metrics: dict) -> None:
    from rich.table import Table

    from medtune.console import console

    def cell(key: str) -> str:
        return common.cell(metrics, key)

    constrained = "free_json_validity" in metrics  # the free run exists only beside a constrained one
    refs = ("base", "majority", "free") if constrained else ("base", "majority")
    decoding = "schema-constrained" if constrained else "free"
    table = Table(title=f"endpoints test (n={metrics['n_test']} rows, {metrics['n_gold_endpoints']} endpoints, "
                        f"{decoding} decoding)")
    columns = ("metric", "fine-tuned [95% CI]", "untuned base", "most-frequent baseline", "free decoding")
    for column in columns[:2 + len(refs)]:
        table.add_column(column, justify="left" if column == "metric" else "right")
    for name in (*HEADLINE, "endpoint_precision", "endpoint_recall"):
        table.add_row(name, cell(name), *(cell(f"{ref}_{name}") for ref in refs))
    for name in ("loss", "token_accuracy"):
        blanks = [""] * (len(refs) - 1)  # no teacher-forced loss for the baselines or the free run (same model)
        table.add_row(f"test {name} (teacher-forced)", cell(f"test_{name}"), cell(f"base_test_{name}"), *blanks)
    for field in FIELDS:
        name = f"field_{field}_accuracy"
        table.add_row(f"  {field}", cell(name), *(cell(f"{ref}_{name}") for ref in refs))
    console.print(table)
    for ref in refs:
        for name in ("field_accuracy", "endpoint_f1"):
            low, high = metrics[f"delta_{name}_vs_{ref}_ci_low"], metrics[f"delta_{name}_vs_{ref}_ci_high"]
            verdict = "[green]better[/]" if low > 0 else "[bold red]NOT better[/]"
            console.print(f"fine-tuned vs {ref}: {name} delta 95% CI [{low:+.3f}, {high:+.3f}] → {verdict}")
