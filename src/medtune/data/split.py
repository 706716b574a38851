"""Train/val/test split: stratified by label, grouped (no patient, trial, document or premise in two
splits), with a hard leakage assertion on normalized input hashes.

scikit-learn's `StratifiedGroupKFold` does the assignment: rows are dealt into `folds` label-balanced,
group-disjoint folds, and each split takes a number of folds proportional to its ratio. Groups the sample
generator marks as holdout (`meta.holdout`: unseen vocabulary) never go to train: they go to test, so test has a
share of phrasings and names that training never saw, or, for a `holdout_val_share` of those groups, to val, so that
model selection can see unseen names too (0 by default: val then holds only training vocabulary). `meta.unseen`
records, per val/test row, whether any of its templates or entity names is absent from train.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from medtune.io import read_jsonl, write_jsonl
from medtune.text import normalize

SPLITS = ("train", "val", "test")


class LeakageError(AssertionError):
    """The same normalized input (or group) landed in two splits."""


def stratify_key(task: str, row: dict) -> str:
    if task in ("reranker", "nli", "cot"):
        return str(row.get("label"))
    if task == "qa":
        return str((row.get("meta") or {}).get("category"))
    if task == "endpoints":
        return str(row["output"]["endpoints"][0].get("measurement_type"))
    if task == "chem-ner":
        return str(row.get("task"))
    return "all"


def fold_counts(ratios: dict[str, float], folds: int, forced_test_share: float) -> dict[str, int]:
    """Folds per split so that (forced test rows + test folds) ≈ the test ratio."""
    total = sum(ratios.values())
    if abs(total - 1.0) > 1e-6 or any(ratios.get(s, -1) < 0 for s in SPLITS):
        raise ValueError(f"data.split ratios must be non-negative train/val/test summing to 1, got {ratios}")
    rest = 1.0 - forced_test_share
    test = max(0.0, ratios["test"] - forced_test_share) / rest if rest > 0 else 0.0
    counts = {"test": round(test * folds), "val": round(ratios["val"] / rest * folds) if rest > 0 else 0}
    counts["train"] = folds - counts["test"] - counts["val"]
    if counts["train"] <= 0 or (ratios["val"] > 0 and counts["val"] == 0):
        raise ValueError(f"data.split {ratios}: too few groups to honour these ratios")
    return counts


def holdout_groups_for_val(holdout: list[dict], share: float, seed: int) -> set[str]:
    """The holdout groups that go to val: a seeded `share` of them (rounded), the rest stay in test."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"data.split.holdout_val_share must be in [0, 1], got {share!r}")
    groups = sorted({r["group"] for r in holdout})
    order = np.random.default_rng(seed).permutation(len(groups))
    return {groups[i] for i in order[: round(share * len(groups))]}


def split_rows(task: str, rows: list[dict], ratios: dict[str, float], seed: int, folds: int = 50,
               holdout_val_share: float = 0.0) -> dict[str, list[dict]]:
    from sklearn.model_selection import StratifiedGroupKFold

    holdout = [r for r in rows if (r.get("meta") or {}).get("holdout")]
    to_val = holdout_groups_for_val(holdout, holdout_val_share, seed)
    rest = [r for r in rows if not (r.get("meta") or {}).get("holdout")]
    groups = np.array([r["group"] for r in rest])
    n_groups = len(set(groups))
    folds = min(folds, n_groups)
    if folds < 3:
        raise ValueError(f"{task}: only {n_groups} groups; at least 3 are needed for train/val/test")
    counts = fold_counts(ratios, folds, len(holdout) / max(1, len(rows)))
    labels = np.array([stratify_key(task, r) for r in rest])
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    fold_of = np.empty(len(rest), dtype=int)
    for fold, (_, index) in enumerate(splitter.split(np.zeros(len(rest)), labels, groups)):
        fold_of[index] = fold
    bounds = {"test": counts["test"], "val": counts["test"] + counts["val"]}
    out: dict[str, list[dict]] = {s: [] for s in SPLITS}
    for row, fold in zip(rest, fold_of):
        out["test" if fold < bounds["test"] else "val" if fold < bounds["val"] else "train"].append(row)
    # The holdout rows are placed after the folds are counted, so the share moves rows between val and test only:
    # train, and everything trained on it, stays the same whatever the share.
    out["val"] += [r for r in holdout if r["group"] in to_val]
    out["test"] += [r for r in holdout if r["group"] not in to_val]
    assert_no_leakage(task, out)
    _mark_unseen(out)
    return out


def assert_no_leakage(task: str, splits: dict[str, list[dict]]) -> None:
    """Hard check: no normalized input hash and no group in two splits."""
    for key, what in (("id", "normalized input hash"), ("group", "group")):
        seen = {name: {row[key] for row in rows} for name, rows in splits.items()}
        names = list(seen)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                shared = seen[a] & seen[b]
                if shared:
                    example = sorted(shared)[0]
                    raise LeakageError(
                        f"split/{task}: {len(shared)} {what}(s) appear in both {a} and {b} (e.g. {example!r}); "
                        "the splits would leak — check the group keys and the clean stage's dedupe"
                    )


def _mark_unseen(splits: dict[str, list[dict]]) -> None:
    train_templates, train_names = set(), set()
    for row in splits["train"]:
        meta = row.get("meta") or {}
        train_templates.update(meta.get("templates", []))
        train_names.update(normalize(n) for n in meta.get("names", []))
    for name in ("val", "test"):
        for row in splits[name]:
            meta = row.get("meta")
            if meta is None or "templates" not in meta:
                continue
            meta["unseen"] = bool(set(meta["templates"]) - train_templates or {normalize(n) for n in meta.get("names", [])} - train_names)


def report(task: str, splits: dict[str, list[dict]]) -> dict:
    out: dict = {"rows": {s: len(rows) for s, rows in splits.items()}, "groups": {s: len({r["group"] for r in rows}) for s, rows in splits.items()}}
    balance = {}
    for name, rows in splits.items():
        counts = Counter(stratify_key(task, r) for r in rows)
        balance[name] = {k: round(v / len(rows), 4) for k, v in sorted(counts.items())} if rows else {}
    out["label_share"] = balance
    for name in ("val", "test"):
        flagged = [r["meta"]["unseen"] for r in splits[name] if "unseen" in (r.get("meta") or {})]
        if flagged:
            out[f"{name}_unseen_fraction"] = round(sum(flagged) / len(flagged), 4)
    return out


def split_file(task: str, source: Path | str, out_dir: Path | str, ratios: dict[str, float], seed: int,
               holdout_val_share: float = 0.0) -> dict:
    rows = read_jsonl(source)
    if not rows:
        raise ValueError(f"{source}: no rows to split")
    splits = split_rows(task, rows, ratios, seed, holdout_val_share=holdout_val_share)
    for name, part in splits.items():
        write_jsonl(Path(out_dir) / f"{name}.jsonl", part)
    return report(task, splits)
