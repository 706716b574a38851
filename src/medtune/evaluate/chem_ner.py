"""Chemical / disease / relation extraction evaluation (seed 002).

Each test row is one (article, task) pair; the model's "- item" lines are parsed (relations as "chemical |
disease", the seed's sentence form accepted too) and compared with the gold answers as sets of normalized strings
(`text.normalize_surface`: NFKC, casefold, whitespace, trailing punctuation; hyphens kept). Entity-level P/R/F1 is
micro within a task; `macro_f1` is the unweighted mean over chemicals, diseases and influences.

Seed 002 filters the model output before scoring; both numbers are reported (`*_unfiltered` = before):
- blacklist: generic words that are not entities ("drug", "disease", "treatment", "toxicity", …);
- grounding: the item (each side of a relation) must occur in the article;
- minimum length: at least 3 characters;
- type check: a chemical (or the chemical side of a relation) must not carry a disease marker
  ("syndrome", "cancer", "-itis", "-emia", …).
Systems: the fine-tuned adapter, the untuned base (same model, adapter disabled) and a gazetteer built from the
training answers (every known chemical/disease found in the article; for influences every known chemical and
known disease found in one sentence — the co-occurrence rule a reader would start from).
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from medtune import prompts
from medtune.data.formats import RowError, chem_ner_relation
from medtune.evaluate import common
from medtune.text import normalize, normalize_surface

log = logging.getLogger(__name__)

TASKS = prompts.CHEM_NER_TASKS
BLACKLIST = frozenset({
    "drug", "drugs", "chemical", "chemicals", "compound", "compounds", "agent", "agents", "medication", "medications",
    "disease", "diseases", "disorder", "disorders", "condition", "conditions", "treatment", "treatments", "therapy",
    "toxicity", "patients", "pain", "none", "n/a",
})
DISEASE_MARKERS = re.compile(r"(disease|syndrome|cancer|failure|disorder|itis|emia|osis|opathy|toxicity)\b")
MIN_LENGTH = 3
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s*")
_SENTENCE_END = re.compile(r"(?<=[.;!?])\s+")


# ---- parsing, normalization, filters ---------------------------------------------------------------------------


def parse_items(output: str, task: str) -> tuple[list[str], int]:
    """(items, malformed line count): one item per "- item" line; a relation line that is neither
    "chemical | disease" nor "chemical X influences disease Y" is malformed and dropped."""
    items, malformed = [], 0
    for line in output.splitlines():
        line = _BULLET.sub("", line).strip()
        if not line:
            continue
        if task == "influences":
            try:
                items.append(chem_ner_relation(line))
            except RowError:
                malformed += 1
        else:
            items.append(" ".join(line.split()))
    return items, malformed


def normalize_item(item: str, task: str) -> str:
    if task == "influences":
        chemical, disease = (normalize_surface(side) for side in item.split("|", 1))
        return f"{chemical} | {disease}"
    return normalize_surface(item)


def filter_reason(item: str, task: str, article: str) -> str | None:
    """Why seed 002's filters drop a normalized item (None = kept). `article` is `text.normalize`d."""
    sides = item.split(" | ", 1) if task == "influences" else [item]
    for position, side in enumerate(sides):
        if side in BLACKLIST:
            return "blacklist"
        if len(side) < MIN_LENGTH:
            return "min_length"
        if side not in article:
            return "not_grounded"
        is_chemical = task == "chemicals" or (task == "influences" and position == 0)
        if is_chemical and DISEASE_MARKERS.search(side):
            return "type_mismatch"
    return None


@dataclass
class Extraction:
    """Normalized predicted items per row, before and after the filters, with counts of what the filters dropped."""

    raw: list[set[str]]
    filtered: list[set[str]]
    dropped: Counter = field(default_factory=Counter)
    malformed: int = 0


def extract(outputs: Sequence[str], rows: Sequence[dict]) -> Extraction:
    raw, filtered, dropped, malformed = [], [], Counter(), 0
    for output, row in zip(outputs, rows):
        items, bad = parse_items(output, row["task"])
        malformed += bad
        normalized = {normalize_item(i, row["task"]) for i in items}
        article = normalize(row["text"])
        kept = set()
        for item in normalized:
            reason = filter_reason(item, row["task"], article)
            if reason:
                dropped[reason] += 1
            else:
                kept.add(item)
        raw.append(normalized)
        filtered.append(kept)
    return Extraction(raw, filtered, dropped, malformed)


def gold_items(row: dict) -> set[str]:
    return {normalize_item(a, row["task"]) for a in row["answers"]}


# ---- counting ------------------------------------------------------------------------------------------------------
# Same convention as the generic entity scorer of the GLiNER2 task (medtune.evaluate.entities on branch `ner`):
# per-document tp/fp/fn arrays so a bootstrap resample is a sum over rows; here the "label" of a row is its task.


@dataclass
class TaskCounts:
    task: np.ndarray  # task index per row
    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray

    @classmethod
    def from_sets(cls, rows: Sequence[dict], predicted: Sequence[set[str]]) -> "TaskCounts":
        gold = [gold_items(r) for r in rows]
        return cls(
            np.array([TASKS.index(r["task"]) for r in rows]),
            np.array([len(g & p) for g, p in zip(gold, predicted)], dtype=float),
            np.array([len(p - g) for g, p in zip(gold, predicted)], dtype=float),
            np.array([len(g - p) for g, p in zip(gold, predicted)], dtype=float),
        )

    def __len__(self) -> int:
        return len(self.tp)

    def prf(self, task: int | None = None, idx: np.ndarray | None = None) -> tuple[float, float, float]:
        idx = np.arange(len(self)) if idx is None else idx
        chosen = idx if task is None else idx[self.task[idx] == task]
        tp, fp, fn = self.tp[chosen].sum(), self.fp[chosen].sum(), self.fn[chosen].sum()
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return float(precision), float(recall), float(f1)

    def macro_f1(self, idx: np.ndarray | None = None) -> float:
        """Mean F1 over the tasks present in these rows (all three on any realistic resample)."""
        idx = np.arange(len(self)) if idx is None else idx
        present = sorted(set(self.task[idx].tolist()))
        return float(np.mean([self.prf(t, idx)[2] for t in present])) if present else 0.0

    def micro_f1(self, idx: np.ndarray | None = None) -> float:
        return self.prf(None, idx)[2]


def count_metrics(counts: TaskCounts) -> dict:
    """Index metrics: `<task>_{precision,recall,f1}`, `macro_f1`, `micro_f1`."""
    fns: dict = {}
    for t, task in enumerate(TASKS):
        for k, stat in enumerate(("precision", "recall", "f1")):
            fns[f"{task}_{stat}"] = lambda idx, t=t, k=k: counts.prf(t, idx)[k]
    fns["macro_f1"], fns["micro_f1"] = counts.macro_f1, counts.micro_f1
    return fns


def score_counts(counts: TaskCounts, prefix: str, suffix: str, resamples: int, seed: int) -> dict:
    """`{prefix}<task>_{precision,recall,f1}{suffix}`, `{prefix}macro_f1{suffix}`, `{prefix}micro_f1{suffix}` + F1 CIs."""
    with_ci = [f"{task}_f1" for task in TASKS] + ["macro_f1", "micro_f1"]
    return common.score_metrics(count_metrics(counts), len(counts), prefix, resamples, seed, with_ci, digits=4, suffix=suffix)


# ---- gazetteer baseline -----------------------------------------------------------------------------------------


def build_gazetteer(train_rows: Iterable[dict]) -> dict[str, set[str]]:
    """Normalized chemical and disease names from the training answers (relation sides included)."""
    names: dict[str, set[str]] = {"chemicals": set(), "diseases": set()}
    for row in train_rows:
        for item in gold_items(row):
            if row["task"] == "influences":
                chemical, disease = item.split(" | ", 1)
                names["chemicals"].add(chemical)
                names["diseases"].add(disease)
            else:
                names[row["task"]].add(item)
    return names


def _found(names: set[str], text: str) -> list[str]:
    return [n for n in names if re.search(rf"(?<!\w){re.escape(n)}(?!\w)", text)]


def gazetteer_predict(gazetteer: dict[str, set[str]], row: dict) -> set[str]:
    text = normalize(row["text"])
    if row["task"] != "influences":
        return set(_found(gazetteer[row["task"]], text))
    pairs = set()
    for sentence in _SENTENCE_END.split(text):
        for chemical in _found(gazetteer["chemicals"], sentence):
            pairs.update(f"{chemical} | {disease}" for disease in _found(gazetteer["diseases"], sentence))
    return pairs


# ---- entry point ---------------------------------------------------------------------------------------------------


def evaluate_chem_ner(
    adapter: Path | str,
    base_model: str,
    train_path: Path | str,
    test_path: Path | str,
    max_new_tokens: int = 96,
    batch_size: int = 16,
    max_test_rows: int = 0,
    bootstrap: int = 1000,
    seed: int = 42,
    predictions_path: Path | str | None = None,
    show: bool = True,
    backend: str = "transformers",
) -> dict:
    """Score the adapter, the untuned base and the gazetteer on the test split; returns flat metrics."""
    from medtune.evaluate.generation import open_backend

    started = time.perf_counter()
    train_rows, test_rows = common.read_eval_rows(train_path, test_path, max_test_rows)
    engine = open_backend(backend, base_model, {"chem-ner": adapter})
    messages = [prompts.chem_ner_messages(r["text"], r["task"]) for r in test_rows]
    outputs = {
        "": engine.generate(messages, max_new_tokens, "chem-ner", batch_size, "generate chem-ner (fine-tuned)"),
        "base_": engine.generate(messages, max_new_tokens, None, batch_size, "generate chem-ner (base)"),
    }
    engine.close()
    extractions = {prefix: extract(out, test_rows) for prefix, out in outputs.items()}
    gazetteer = build_gazetteer(train_rows)
    gazetteer_sets = [gazetteer_predict(gazetteer, r) for r in test_rows]
    counts = {prefix: (TaskCounts.from_sets(test_rows, e.filtered), TaskCounts.from_sets(test_rows, e.raw)) for prefix, e in extractions.items()}
    counts["gazetteer_"] = (TaskCounts.from_sets(test_rows, gazetteer_sets),) * 2

    metrics: dict = {"n_test": len(test_rows), **{f"n_{t}": int(sum(r["task"] == t for r in test_rows)) for t in TASKS}}
    for prefix, (filtered, raw) in counts.items():
        metrics.update(score_counts(filtered, prefix, "", bootstrap, seed))
        metrics.update(score_counts(raw, prefix, "_unfiltered", bootstrap, seed))
    for prefix, extraction in extractions.items():
        metrics[f"{prefix}malformed_relation_lines"] = extraction.malformed
        metrics.update({f"{prefix}filtered_{reason}": n for reason, n in sorted(extraction.dropped.items())})
    ours = count_metrics(counts[""][0])
    for ref in ("base", "gazetteer"):
        metrics.update(common.paired_deltas(ours, count_metrics(counts[f"{ref}_"][0]), ref, len(test_rows), bootstrap, seed,
                                            names=("macro_f1", "micro_f1"), digits=4))
    mask = common.seen_mask(test_rows)
    for prefix in ("", "gazetteer_"):
        macro = {"macro_f1": counts[prefix][0].macro_f1}
        metrics.update({k: v for k, v in common.seen_unseen(mask, macro, bootstrap, seed, prefix, digits=4).items()
                        if prefix == "" or not k.startswith("n_")})
    if predictions_path:
        from medtune.io import write_jsonl

        write_jsonl(predictions_path, [{"id": r["id"], "task": r["task"], "gold": r["answers"], "prediction": o, "base_prediction": b,
                                        "gazetteer": sorted(g)} for r, o, b, g in zip(test_rows, outputs[""], outputs["base_"], gazetteer_sets)])
    metrics["eval_runtime_s"] = round(time.perf_counter() - started, 1)
    if show:
        print_table(metrics)
    return metrics


def print_table(metrics: dict) -> None:
    from rich.table import Table

    from medtune.console import console

    def cell(key: str) -> str:
        return common.cell(metrics, key)

    table = Table(title=f"chem-ner test (n={metrics['n_test']} rows; F1 after filtering, before in the unfiltered rows)")
    for column in ("metric", "fine-tuned [95% CI]", "untuned base", "gazetteer"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for name in [f"{t}_{m}" for t in TASKS for m in ("precision", "recall", "f1")] + ["macro_f1", "micro_f1"]:
        table.add_row(name, cell(name), cell(f"base_{name}"), cell(f"gazetteer_{name}"))
    for name in [f"{t}_f1" for t in TASKS] + ["macro_f1"]:
        table.add_row(f"{name} (unfiltered)", cell(f"{name}_unfiltered"), cell(f"base_{name}_unfiltered"), "")
    for part in ("seen", "unseen"):
        if f"macro_f1_{part}" in metrics:
            table.add_row(f"macro_f1 ({part}, n={metrics[f'n_{part}']})", cell(f"macro_f1_{part}"), "", cell(f"gazetteer_macro_f1_{part}"))
    console.print(table)
    for ref in ("base", "gazetteer"):
        low, high = metrics[f"delta_macro_f1_vs_{ref}_ci_low"], metrics[f"delta_macro_f1_vs_{ref}_ci_high"]
        verdict = "[green]better[/]" if low > 0 else "[bold red]NOT better[/]"
        console.print(f"fine-tuned vs {ref}: macro F1 delta 95% CI [{low:+.3f}, {high:+.3f}] → {verdict}")
