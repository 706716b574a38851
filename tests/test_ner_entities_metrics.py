"""Entity P/R/F1 against small hand-checked examples."""

import numpy as np
import pytest

from medtune.evaluate import entities as E


def m(label, start, end, text):
    return {"label": label, "start": start, "end": end, "text": text}


TEXT = "Metformin for type 2 diabetes."
GOLD = [m("drug", 0, 9, "Metformin"), m("disease", 14, 29, "type 2 diabetes")]
PRED = [m("drug", 0, 9, "Metformin"), m("disease", 14, 30, "type 2 diabetes."), m("drug", 10, 13, "for")]


def test_exact_spans_hand_checked():
    # exact: drug 0-9 correct; disease 14-30 wrong boundary (1 FP + 1 FN); "for" FP.
    # tp=1 fp=2 fn=1 -> P=1/3, R=1/2, F1=2*(1/3)(1/2)/(5/6)=0.4
    result = E.score([E.exact_items(GOLD)], [E.exact_items(PRED)], resamples=0)
    assert result["micro_precision"] == pytest.approx(1 / 3)
    assert result["micro_recall"] == pytest.approx(0.5)
    assert result["micro_f1"] == pytest.approx(0.4)
    # per label: drug tp1 fp1 fn0 -> F1 2/3; disease tp0 fp1 fn1 -> 0. macro = 1/3
    assert result["per_label"]["drug"]["f1"] == pytest.approx(2 / 3)
    assert result["per_label"]["disease"]["f1"] == 0.0
    assert result["per_label"]["disease"]["support"] == 1
    assert result["macro_f1"] == pytest.approx(1 / 3)


def test_normalized_surfaces_forgive_case_space_and_trailing_punctuation():
    # normalized: "type 2 diabetes." == "type 2 diabetes"; tp=2, fp=1 ("for"), fn=0 -> P=2/3 R=1 F1=0.8
    result = E.score([E.normalized_items(GOLD)], [E.normalized_items(PRED)], resamples=0)
    assert result["micro_f1"] == pytest.approx(0.8)
    assert E.normalized_items([m("drug", 0, 0, "  METFORMIN\u00a0 ,")]) == {("drug", "metformin")}


def test_micro_pools_documents_and_macro_averages_labels():
    gold = [{("drug", 0, 5)}, {("gene", 0, 4), ("gene", 10, 14)}]
    pred = [{("drug", 0, 5)}, {("gene", 0, 4)}]
    result = E.score(gold, pred, resamples=0)
    # micro: tp=2 fn=1 -> P=1, R=2/3, F1=0.8; macro: drug 1.0, gene P=1 R=.5 F1=2/3 -> 5/6
    assert result["micro_f1"] == pytest.approx(0.8)
    assert result["macro_f1"] == pytest.approx(5 / 6)
    assert result["gold"] == 3 and result["predicted"] == 2


def test_no_predictions_scores_zero_not_nan():
    result = E.score([{("drug", 0, 5)}], [set()], resamples=0)
    assert result["micro_f1"] == 0.0 and result["micro_precision"] == 0.0


def test_label_must_match():
    result = E.score([{("drug", 0, 5)}], [{("gene", 0, 5)}], resamples=0)
    assert result["micro_f1"] == 0.0
    assert set(result["per_label"]) == {"drug", "gene"}


def test_bootstrap_ci_brackets_the_estimate_and_is_seeded():
    rng = np.random.default_rng(0)
    gold = [{("x", i, i + 1)} for i in range(60)]
    pred = [{("x", i, i + 1)} if rng.random() < 0.7 else {("x", i, i + 2)} for i in range(60)]
    first = E.score(gold, pred, resamples=300, seed=1)
    second = E.score(gold, pred, resamples=300, seed=1)
    low, high = first["micro_f1_ci"]
    assert low < first["micro_f1"] < high
    assert first["micro_f1_ci"] == second["micro_f1_ci"]
    assert 0.0 < high - low < 0.5


def test_relations_compare_normalized_head_and_tail():
    gold = [E.relation_items([{"label": "targets", "head": "Erlotinib", "tail": "EGFR"}])]
    right = [E.relation_items([{"label": "targets", "head": "erlotinib", "tail": "EGFR."}])]
    swapped = [E.relation_items([{"label": "targets", "head": "EGFR", "tail": "Erlotinib"}])]
    assert E.score(gold, right, resamples=0)["micro_f1"] == 1.0
    assert E.score(gold, swapped, resamples=0)["micro_f1"] == 0.0


def test_paired_delta_ci_is_positive_when_a_is_clearly_better():
    gold = [{("x", i, i + 1)} for i in range(40)]
    good = [set(doc) for doc in gold]
    bad = [set() if i % 2 else set(doc) for i, doc in enumerate(gold)]
    low, high = E.paired_f1_delta_ci(gold, good, bad, resamples=200)
    assert low > 0 and high > low


class _Oracle:
    """Stands in for a GLiNER2 model: returns the gold mentions of each known text (or nothing)."""

    def __init__(self, rows, keep=lambda mention: True):
        self.gold = {row["text"]: [e for e in row["entities"] if keep(e)] for row in rows}

    def batch_extract_entities(self, texts, labels, **_):
        return [{"entities": _grouped(self.gold.get(text, []))} for text in texts]

    def batch_extract_relations(self, texts, relations, **_):
        return [{"relation_extraction": {}} for _ in texts]


def _grouped(mentions):
    out = {}
    for e in mentions:
        out.setdefault(e["label"], []).append({"text": e["text"], "start": e["start"], "end": e["end"], "confidence": 0.9})
    return out


def test_headline_keys_follow_the_shared_layout_and_deltas_flag_a_real_win():
    from medtune.evaluate.ner import evaluate_ner, flatten, headline
    from medtune.ner.schema import EntitySchema
    from ner_fixtures import dataset

    schema = EntitySchema(entities={"disease": "A disease", "drug": "A drug", "gene": "A gene"})
    unseen = {"asthma", "warfarin", "EGFR", "gout"}  # names the gazetteer never sees in training
    train = [row for row in dataset(60) if not any(e["text"] in unseen for e in row["entities"])]
    test = dataset(40, offset=3)
    results = evaluate_ner(test, train, _Oracle(test), _Oracle(test, keep=lambda e: e["label"] == "drug"), schema, resamples=200)
    flat = headline(results) | flatten(results)
    assert flat["n_test"] == 40 and flat["exact_micro_f1"] == 1.0
    for prefix in ("", "base_", "gazetteer_"):
        assert flat[f"{prefix}exact_micro_f1_ci_low"] <= flat[f"{prefix}exact_micro_f1"] <= flat[f"{prefix}exact_micro_f1_ci_high"]
        assert f"{prefix}normalized_micro_f1_unseen" in flat
    # the oracle beats the gazetteer (which cannot find unseen names) and the drug-only "base" beyond the CI
    assert flat["gazetteer_exact_micro_f1"] < 1.0 and flat["delta_exact_micro_f1_vs_gazetteer_ci_low"] > 0
    assert flat["delta_normalized_micro_f1_vs_base_ci_low"] > 0
    assert flat["delta_exact_micro_f1_vs_base_ci_high"] <= 1.0
    # a model that finds nothing is not better than the gazetteer
    nothing = headline(evaluate_ner(test, train, _Oracle([]), None, schema, resamples=200))
    assert nothing["delta_exact_micro_f1_vs_gazetteer_ci_high"] < 0 and "delta_exact_micro_f1_vs_base_ci_low" not in nothing
