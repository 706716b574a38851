"""split: grouped, stratified, holdout groups to test, and the hard leakage assertion."""

from collections import Counter

import pytest

from medtune.data.split import LeakageError, assert_no_leakage, fold_counts, split_rows


def rows(n_groups=200, per_group=4, holdout_every=0):
    out = []
    for g in range(n_groups):
        holdout = bool(holdout_every) and g % holdout_every == 0
        for i in range(per_group):
            out.append({"id": f"{g:04d}{i}", "group": f"p{g}", "label": "Yes" if (g + i) % 3 else "No",
                        "meta": {"templates": [f"t{g % 7}" if not holdout else "held"], "names": [f"n{g % 5}"], "holdout": holdout}})
    return out


def test_groups_never_cross_splits_and_ratios_and_labels_hold():
    splits = split_rows("reranker", rows(), {"train": 0.8, "val": 0.1, "test": 0.1}, seed=1)
    groups = {name: {r["group"] for r in part} for name, part in splits.items()}
    assert not (groups["train"] & groups["val"] or groups["train"] & groups["test"] or groups["val"] & groups["test"])
    sizes = {name: len(part) for name, part in splits.items()}
    assert sum(sizes.values()) == 800 and 0.75 < sizes["train"] / 800 < 0.85 and 0.07 < sizes["test"] / 800 < 0.13
    for part in splits.values():
        share = Counter(r["label"] for r in part)["Yes"] / len(part)
        assert abs(share - 2 / 3) < 0.1


def test_holdout_groups_go_to_test_and_unseen_is_marked():
    splits = split_rows("reranker", rows(holdout_every=25), {"train": 0.8, "val": 0.1, "test": 0.1}, seed=1)
    assert all(not r["meta"]["holdout"] for name in ("train", "val") for r in splits[name])
    held = [r for r in splits["test"] if r["meta"]["holdout"]]
    assert held and all(r["meta"]["unseen"] for r in held)
    assert not any(r["meta"]["unseen"] for r in splits["test"] if not r["meta"]["holdout"])


def test_split_is_deterministic_for_a_seed():
    a = split_rows("reranker", rows(), {"train": 0.8, "val": 0.1, "test": 0.1}, seed=3)
    b = split_rows("reranker", rows(), {"train": 0.8, "val": 0.1, "test": 0.1}, seed=3)
    assert [r["id"] for r in a["test"]] == [r["id"] for r in b["test"]]


def test_planted_leak_is_caught():
    splits = split_rows("reranker", rows(), {"train": 0.8, "val": 0.1, "test": 0.1}, seed=1)
    leaked = dict(splits["train"][0], group="someone-else")  # same normalized input, other group
    splits["test"].append(leaked)
    with pytest.raises(LeakageError, match="split/reranker: 1 normalized input hash.*train and test"):
        assert_no_leakage("reranker", splits)


def test_bad_ratios_are_an_error():
    with pytest.raises(ValueError, match="summing to 1"):
        fold_counts({"train": 0.8, "val": 0.3, "test": 0.1}, 50, 0.0)


RATIOS = {"train": 0.8, "val": 0.1, "test": 0.1}


def test_a_holdout_val_share_moves_whole_holdout_groups_to_val_and_leaves_train_alone():
    before = split_rows("reranker", rows(holdout_every=10), RATIOS, seed=1)
    after = split_rows("reranker", rows(holdout_every=10), RATIOS, seed=1, holdout_val_share=0.5)
    assert [r["id"] for r in after["train"]] == [r["id"] for r in before["train"]]
    held = {name: {r["group"] for r in after[name] if r["meta"]["holdout"]} for name in ("val", "test")}
    assert len(held["val"]) == len(held["test"]) == 10 and not held["val"] & held["test"]
    assert all(r["meta"]["unseen"] for r in after["val"] if r["meta"]["holdout"])
    # the rows val gains are exactly the ones test loses
    assert {r["id"] for r in after["val"]} - {r["id"] for r in before["val"]} == \
        {r["id"] for r in before["test"]} - {r["id"] for r in after["test"]}


def test_holdout_val_share_edges_and_range():
    everything = split_rows("reranker", rows(holdout_every=10), RATIOS, seed=1, holdout_val_share=1.0)
    assert not any(r["meta"]["holdout"] for r in everything["test"])
    nothing = split_rows("reranker", rows(holdout_every=10), RATIOS, seed=1, holdout_val_share=0.0)
    assert not any(r["meta"]["holdout"] for r in nothing["val"])
    with pytest.raises(ValueError, match=r"holdout_val_share must be in \[0, 1\], got 1.5"):
        split_rows("reranker", rows(holdout_every=10), RATIOS, seed=1, holdout_val_share=1.5)
