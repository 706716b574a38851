"""Deliberately dirty raw rows, so `clean` has real work in the sample profile.

Kinds (DESIGN.md): exact duplicates, near-duplicates that differ only in case/whitespace, invalid JSON,
missing or unknown labels, out-of-range spans (ner), and conflicting labels (same input, other label).
Each dirty row is derived from a clean row and inserted at a random position.
"""

from __future__ import annotations

import copy
import json
import random
from typing import Callable

DIRTY_KINDS = ("exact_duplicate", "near_duplicate", "invalid_json", "missing_label", "unknown_label", "span_out_of_range", "conflict")
# Shares of the dirty rows; kinds a task does not support are redrawn.
_WEIGHTS = (0.25, 0.2, 0.15, 0.12, 0.12, 0.06, 0.10)


def _dumps(row: dict) -> str:
    return json.dumps(row, ensure_ascii=False)


def _near_duplicate(task: str, row: dict) -> dict | None:
    """Same input up to case/whitespace (so it normalizes to the same hash), same label."""
    row = copy.deepcopy(row)
    if task == "reranker":
        row["criterion"] = "  " + row["criterion"].upper()
    elif task == "nli":
        row["hypothesis"] = row["hypothesis"].replace(" ", "  ").lower()
    elif task == "qa":
        row["instruction"] = row["instruction"].upper() + " "
    elif task == "cot":
        if "messages" in row:
            row["messages"][1]["content"] = row["messages"][1]["content"].replace(" ", "  ", 3)
        else:
            row["input"] = row["input"].replace(" ", "  ", 3)
    elif task in ("ner", "endpoints"):
        key = "input" if "input" in row else "text"
        row[key] = row[key] + "  "  # trailing whitespace keeps every span offset valid
    elif task == "chem-ner":
        key = "prompt" if "prompt" in row else "text"
        row[key] = row[key].replace(" ", "  ", 3)
    else:
        return None
    return row


def _drop_label(task: str, row: dict) -> dict | None:
    row = copy.deepcopy(row)
    if task in ("reranker", "nli"):
        del row["label"]
    elif task == "qa":
        row["response"] = ""
    elif task == "endpoints":
        del row["output"]
    elif task == "cot":
        if "messages" in row:
            row["messages"] = row["messages"][:-1]
        else:
            del row["output"]
    elif task == "ner":
        for key in ("entities", "ner", "schema", "output", "structures"):
            row.pop(key, None)
        if "input" in row:
            row["text"] = row.pop("input")
    elif task == "chem-ner":
        if "prompt" in row:
            row["completion"] = ""
        else:
            row.pop("entities", None)
            row.pop("relations", None)
    return row


def _unknown_label(task: str, row: dict, rng: random.Random) -> dict | None:
    row = copy.deepcopy(row)
    if task == "reranker":
        row["label"] = rng.choice(("Maybe", "unclear", "1"))
    elif task == "nli":
        row["label"] = rng.choice(("unsure", "positive", "2"))
    elif task == "cot":
        answer = json.dumps({"reasoning": "Unclear from the text.", "verdict": rng.choice(("possibly", "likely met"))})
        if "messages" in row:
            row["messages"][-1]["content"] = answer
        else:
            row["output"] = answer
    elif task == "ner" and "entities" in row and row["entities"]:
        label = next(iter(row["entities"]))
        row["entities"]["symptom"] = row["entities"].pop(label)
    elif task == "endpoints":
        row["output"]["endpoints"][0]["measurement_type"] = "categorical"
    elif task == "chem-ner":
        if "prompt" in row:
            row["prompt"] = row["prompt"].replace(" list only of the ", " list only of the proteins and ", 1)
        else:
            row["task"] = rng.choice(("proteins", "genes"))
    else:
        return None
    return row


def _span_out_of_range(task: str, row: dict, rng: random.Random) -> dict | None:
    if task != "ner" or "ner" not in row or not row["ner"]:
        return None
    row = copy.deepcopy(row)
    span = rng.choice(row["ner"])
    span[1] = len(row["text"]) + rng.randint(1, 20)
    return row


def _conflict(task: str, row: dict, rng: random.Random) -> dict | None:
    """Same input, different label."""
    row = copy.deepcopy(row)
    if task == "reranker":
        row["label"] = "No" if row["label"] == "Yes" else "Yes"
    elif task == "nli":
        row["label"] = rng.choice([x for x in ("entailment", "neutral", "contradiction") if x != row["label"]])
    elif task == "cot":
        key = "messages" if "messages" in row else "output"
        answer = json.loads(row["messages"][-1]["content"] if key == "messages" else row["output"])
        answer["verdict"] = rng.choice([v for v in ("met", "not_met", "unknown") if v != answer["verdict"]])
        if key == "messages":
            row["messages"][-1]["content"] = json.dumps(answer)
        else:
            row["output"] = json.dumps(answer)
    elif task == "qa":
        row["response"] = "It depends; ask around."
    elif task == "endpoints":
        endpoint = row["output"]["endpoints"][0]
        endpoint["timeframe"] = "12 weeks" if endpoint["timeframe"] != "12 weeks" else "52 weeks"
    elif task == "ner" and "ner" in row and len(row["ner"]) > 1:
        row["ner"] = row["ner"][:-1]
    elif task == "chem-ner" and "completion" in row and "\n" in row["completion"]:
        row["completion"] = row["completion"].rsplit("\n", 1)[0]
    elif task == "chem-ner" and len(row.get("entities") or row.get("relations") or []) > 1:
        key = "entities" if "entities" in row else "relations"
        row[key] = row[key][:-1]
    else:
        return None
    return row


def dirty_line(kind: str, task: str, row: dict, rng: random.Random) -> str | None:
    """One dirty JSONL line derived from `row`, or None if `kind` does not apply to this task/row."""
    makers: dict[str, Callable[[], dict | str | None]] = {
        "exact_duplicate": lambda: _dumps(row),
        "near_duplicate": lambda: _near_duplicate(task, row),
        "invalid_json": lambda: (lambda s: s[: rng.randint(5, max(6, len(s) - 2))])(_dumps(row)),
        "missing_label": lambda: _drop_label(task, row),
        "unknown_label": lambda: _unknown_label(task, row, rng),
        "span_out_of_range": lambda: _span_out_of_range(task, row, rng),
        "conflict": lambda: _conflict(task, row, rng),
    }
    made = makers[kind]()
    if made is None:
        return None
    return made if isinstance(made, str) else _dumps(made)


def with_dirty_rows(task: str, rows: list[dict], fraction: float, rng: random.Random) -> list[str]:
    """JSONL lines of `rows` plus round(fraction * len(rows)) dirty lines at random positions."""
    lines = [_dumps(row) for row in rows]
    wanted = round(fraction * len(rows))
    added = 0
    while added < wanted and rows:
        kind = rng.choices(DIRTY_KINDS, weights=_WEIGHTS)[0]
        line = dirty_line(kind, task, rng.choice(rows), rng)
        if line is None:
            continue
        lines.insert(rng.randint(0, len(lines)), line)
        added += 1
    return lines
