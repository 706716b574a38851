"""QA fixture data in the canonical split format (HELPERS data contract), made by the sample generator.

Rows are grouped by topic like the real split: a group (kind, concept) never crosses splits; holdout groups go to
test and are flagged `meta.unseen`, as the split stage does."""

from __future__ import annotations

import random
from pathlib import Path

from medtune import prompts
from medtune.io import write_jsonl
from medtune.sample.qa import generate_qa
from medtune.text import hex_id, normalized_hash


def canonical(row: dict) -> dict:
    messages = prompts.qa_messages(row["instruction"], row.get("input")) + [{"role": "assistant", "content": row["response"]}]
    out = {"id": hex_id(normalized_hash(row["instruction"], row.get("input", ""))), "group": row["group"], "messages": messages,
           "instruction": row["instruction"], "response": row["response"], "meta": dict(row["meta"])}
    if row.get("input"):
        out["input"] = row["input"]
    return out


def qa_splits(n: int = 240, seed: int = 3) -> dict[str, list[dict]]:
    rows = [canonical(r) for r in generate_qa(random.Random(seed), n, holdout_fraction=0.1)]
    groups = sorted({r["group"] for r in rows if not r["meta"]["holdout"]})
    random.Random(seed).shuffle(groups)
    val, test = set(groups[: len(groups) // 10]), set(groups[len(groups) // 10 : len(groups) // 5])
    splits: dict[str, list[dict]] = {"train": [], "val": [], "test": []}
    for r in rows:
        name = "test" if r["meta"]["holdout"] or r["group"] in test else "val" if r["group"] in val else "train"
        if name != "train":
            r["meta"]["unseen"] = bool(r["meta"]["holdout"])
        splits[name].append(r)
    return splits


def write_qa_split(root: Path, n: int = 240, seed: int = 3) -> Path:
    """<root>/qa/{train,val,test}.jsonl; returns <root>/qa."""
    for name, rows in qa_splits(n, seed).items():
        write_jsonl(root / "qa" / f"{name}.jsonl", rows)
    return root / "qa"
