"""Reranker / CoT evaluation rules against hand-computed values: classification, ECE, ranking with ties, bootstrap
reproducibility, parse-failure counting, the baselines and the shared flat-key helpers."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from medtune import prompts
from medtune.evaluate import binary, common, lexical
from medtune.evaluate import cot as cot_eval
from medtune.evaluate import reranker as rr_eval


# ---- classification and calibration ----------------------------------------------------------------------------


def test_accuracy_f1_auroc_by_hand():
    y = np.array([1, 0, 1, 1, 0])
    p = np.array([0.9, 0.6, 0.4, 0.7, 0.1])  # decisions 1 1 0 1 0 -> tp 2, fp 1, fn 1, tn 1
    assert binary.accuracy(y, p) == pytest.approx(3 / 5)
    assert binary.f1(y, p) == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
    # positive/negative pairs ranked correctly: (0.9>0.6,0.9>0.1,0.4<0.6,0.4>0.1,0.7>0.6,0.7>0.1) = 5 of 6
    assert binary.auroc(y, p) == pytest.approx(5 / 6)
    assert math.isnan(binary.auroc(np.array([1, 1]), np.array([0.2, 0.3])))


def test_ece_by_hand():
    # one row per bin: |1-.9|, |0-.8|, |1-.2|, |1-.65| averaged
    y, p = np.array([1, 0, 1, 1]), np.array([0.9, 0.8, 0.2, 0.65])
    assert binary.expected_calibration_error(y, p) == pytest.approx((0.1 + 0.8 + 0.8 + 0.35) / 4)
    # two rows in one bin [0.3, 0.4): mean p 0.35 vs observed 0.5
    assert binary.expected_calibration_error(np.array([1, 0]), np.array([0.31, 0.39])) == pytest.approx(0.15)
    # p = 1.0 falls into the last (closed) bin; a perfectly calibrated constant has ECE 0
    assert binary.expected_calibration_error(np.array([1]), np.array([1.0])) == pytest.approx(0.0)
    assert binary.expected_calibration_error(np.array([1, 0, 1, 0]), np.full(4, 0.5)) == pytest.approx(0.0)
    bins = binary.calibration_bins(np.array([1, 0]), np.array([0.31, 0.39]))
    assert bins == [{"bin_low": pytest.approx(0.3), "bin_high": pytest.approx(0.4), "count": 2,
                     "mean_p_yes": pytest.approx(0.35), "observed_yes": 0.5}]


# ---- ranking ---------------------------------------------------------------------------------------------------


def test_reciprocal_rank_by_hand_with_ties_averaged():
    assert binary.reciprocal_rank(np.array([0, 1, 0]), np.array([0.9, 0.5, 0.1])) == pytest.approx(1 / 2)
    assert binary.reciprocal_rank(np.array([1, 0]), np.array([0.5, 0.5])) == pytest.approx(0.5 * 1 + 0.5 * 1 / 2)
    # three tied, one relevant: uniform over ranks 1..3
    assert binary.reciprocal_rank(np.array([0, 1, 0]), np.full(3, 0.2)) == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)
    # three tied, two relevant: first relevant at 1 w.p. 2/3, at 2 w.p. 1/3
    assert binary.reciprocal_rank(np.array([1, 1, 0]), np.full(3, 0.2)) == pytest.approx(2 / 3 + 1 / 3 / 2)
    # one non-relevant item above the tie block
    assert binary.reciprocal_rank(np.array([0, 1, 0]), np.array([0.9, 0.2, 0.2])) == pytest.approx((1 / 2 + 1 / 3) / 2)
    with pytest.raises(ValueError):
        binary.reciprocal_rank(np.array([0, 0]), np.array([0.1, 0.2]))


def test_ndcg_by_hand():
    assert binary.ndcg_at_k(np.array([0, 1]), np.array([0.9, 0.1])) == pytest.approx(1 / math.log2(3))
    ideal = 1 + 1 / math.log2(3)
    assert binary.ndcg_at_k(np.array([1, 0, 1]), np.array([0.3, 0.2, 0.1])) == pytest.approx((1 + 1 / math.log2(4)) / ideal)
    # k cuts the list: the only relevant item at rank 3 with k=2 contributes nothing
    assert binary.ndcg_at_k(np.array([0, 0, 1]), np.array([0.3, 0.2, 0.1]), k=2) == pytest.approx(0.0)


def test_rankable_groups_skip_singletons_and_groups_without_yes():
    groups = ["a", "a", "b", "c", "c", "d", "d"]
    y = np.array([1, 0, 1, 0, 0, 1, 1])
    ranked = binary.rankable_groups(groups, y)
    assert [r.tolist() for r in ranked] == [[0, 1], [5, 6]]


# ---- reranker scoring ------------------------------------------------------------------------------------------


def _toy_reranker(seed: int = 0):
    rng = np.random.default_rng(seed)
    groups = [f"p{i // 6}" for i in range(120)]
    y = rng.integers(0, 2, size=120)
    good = np.clip(y * 0.6 + rng.normal(0.2, 0.2, size=120), 0, 1)
    noise = rng.uniform(size=120)
    return y, groups, {"": good, "base_": noise, "majority_": np.full(120, 0.5)}


def test_score_reranker_keys_values_and_significance():
    y, groups, systems = _toy_reranker()
    m = rr_eval.score_reranker(y, groups, systems, resamples=200, seed=1)
    assert m["n_test"] == 120 and m["n_ranked_groups"] == len(binary.rankable_groups(groups, y)) >= 15
    for prefix in ("", "base_", "majority_"):
        for name in rr_eval.HEADLINE:
            assert m[f"{prefix}{name}_ci_low"] <= m[f"{prefix}{name}"] <= m[f"{prefix}{name}_ci_high"]
    assert m["accuracy"] == pytest.approx(round(binary.accuracy(y, systems[""]), 4))
    assert m["majority_auroc"] == pytest.approx(0.5)
    assert m["delta_auroc_vs_base_ci_low"] > 0  # an informative scorer beats noise beyond the CI
    assert m["delta_mrr_vs_majority_ci_low"] > 0
    assert "delta_ece_vs_base_ci_low" not in m  # lower is better: no "improvement" delta for it


def test_bootstrap_ci_is_reproducible_for_a_seed():
    y, groups, systems = _toy_reranker()
    a = rr_eval.score_reranker(y, groups, systems, resamples=100, seed=7)
    b = rr_eval.score_reranker(y, groups, systems, resamples=100, seed=7)
    c = rr_eval.score_reranker(y, groups, systems, resamples=100, seed=8)
    assert a == b
    assert any(a[k] != c[k] for k in a if k.endswith("_ci_low"))


def test_majority_prior_and_lexical_baseline():
    train = [{"patient_text": "Known hypertension. Takes metformin.", "criterion": "History of hypertension", "label": "Yes"},
             {"patient_text": "Takes metformin daily.", "criterion": "Current smoker", "label": "No"},
             {"patient_text": "Never smoked. eGFR 70.", "criterion": "Current smoker status", "label": "Yes"},
             {"patient_text": "Has asthma.", "criterion": "Prior chemotherapy", "label": "No"},
             {"patient_text": "Has asthma.", "criterion": "Uses insulin", "label": "No"}]
    test = [{"patient_text": "Known hypertension.", "criterion": "Hypertension diagnosis", "label": "Yes"},
            {"patient_text": "Known hypertension.", "criterion": "Insulin pump", "label": "No"}]
    assert rr_eval.majority_p_yes(train, test).tolist() == pytest.approx([0.4, 0.4])
    p = rr_eval.lexical_p_yes(train * 10, test, seed=0)  # enough rows for the regularised fit to commit
    assert p[0] > 0.5 > p[1]


def test_read_reranker_rows_names_the_file(tmp_path):
    from medtune.io import InputError, write_jsonl

    write_jsonl(tmp_path / "t.jsonl", [{"patient_text": "x", "criterion": "y", "label": "maybe"}])
    with pytest.raises(InputError, match="t.jsonl.*row 1"):
        rr_eval.read_reranker_rows(tmp_path / "t.jsonl")


# ---- CoT -------------------------------------------------------------------------------------------------------


def test_parse_failures_are_counted_and_scored_as_wrong():
    outputs = [
        '{"reasoning": "HbA1c is 6.1%.", "verdict": "met"}',          # strict JSON
        'The patient probably qualifies.',                             # no verdict: failure
        '{"reasoning": "cut off mid "quote", "verdict": "unknown"}',   # invalid JSON, field intact: parses
        '{"reasoning": "x", "verdict": "maybe"}',                      # unknown verdict: failure
    ]
    gold = np.array(["met", "met", "unknown", "not_met"], dtype=object)
    assert cot_eval.parse_failures(outputs) == 2
    m = cot_eval.score_cot(gold, {"": outputs}, resamples=50, seed=0)
    assert m["n_parse_failures"] == 2
    assert m["parse_rate"] == pytest.approx(0.5) and m["json_rate"] == pytest.approx(0.25)
    assert m["accuracy"] == pytest.approx(0.5)  # rows 1 and 3 right; the unparsed rows count as wrong
    # macro F1 over met/not_met/unknown: met P=1 R=.5 -> 2/3; not_met 0; unknown 1
    assert m["macro_f1"] == pytest.approx(round((2 / 3 + 0 + 1) / 3, 4))


def _cot_row(patient: str, criterion: str, verdict: str | None, label=None) -> dict:
    answer = prompts.cot_answer("r", verdict) if verdict else "no verdict here"
    return {"messages": prompts.cot_messages(patient, criterion) + [{"role": "assistant", "content": answer}], "label": label}


def test_gold_verdict_and_runtime_prompt():
    row = _cot_row("Known asthma.", "History of asthma", "met")
    assert cot_eval.gold_verdict(row) == "met"
    assert cot_eval.gold_verdict(_cot_row("x", "y", None, label="unknown")) == "unknown"
    assert cot_eval.gold_verdict(_cot_row("x", "y", None, label=None)) is None
    prompt, runtime = cot_eval.runtime_prompt(row)
    assert runtime and prompt == prompts.cot_messages("Known asthma.", "History of asthma")
    other = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Is the patient eligible?"},
                          {"role": "assistant", "content": prompts.cot_answer("r", "unknown")}]}
    prompt, runtime = cot_eval.runtime_prompt(other)
    assert not runtime and prompt == other["messages"][:-1]


def test_lexical_rule_baseline():
    train = [_cot_row("Known asthma. Walks daily.", "History of asthma", "met"),
             _cot_row("No asthma. Walks daily.", "History of asthma", "not_met"),
             _cot_row("Walks daily.", "Current smoker", "unknown"),
             _cot_row("Takes insulin.", "Prior chemotherapy", "unknown")]
    cut = cot_eval.fit_lexical_rule(train)
    assert 0 < cut <= 1
    assert [cot_eval.lexical_rule_verdict(r, cut) for r in train] == ["met", "not_met", "unknown", "unknown"]
    assert cot_eval.majority_verdict(train) == "unknown"


def test_lexical_overlap_and_negation():
    assert lexical.overlap("History of hypertension", "Known hypertension since 2010.") == 1.0
    assert lexical.overlap("History of hypertension", "High blood pressure.") == 0.0  # paraphrase: the baseline's blind spot
    assert lexical.negated(["denies chest pain"]) and not lexical.negated(["casino visits"])
    assert lexical.best_threshold(np.array([0.0, 0.2, 0.8, 1.0]), np.array([0, 0, 1, 1])) == pytest.approx(0.8)


# ---- shared helpers --------------------------------------------------------------------------------------------


def test_seen_unseen_and_paired_deltas():
    y = np.array([1, 0, 1, 0, 1, 0])
    ours = common.label_metrics(y, y.copy(), {"accuracy": lambda a, b: float((a == b).mean())})
    ref = common.label_metrics(y, 1 - y, {"accuracy": lambda a, b: float((a == b).mean())})
    rows = [{"meta": {"unseen": u}} for u in (False, False, True, True, False, True)]
    mask = common.seen_mask(rows)
    assert mask.tolist() == [True, True, False, False, True, False]
    out = common.seen_unseen(mask, ours, resamples=20, seed=0)
    assert out["n_seen"] == 3 and out["accuracy_unseen"] == 1.0 and out["accuracy_seen_ci_low"] == 1.0
    deltas = common.paired_deltas(ours, ref, "flip", 6, resamples=50, seed=0)
    assert deltas == {"delta_accuracy_vs_flip_ci_low": 1.0, "delta_accuracy_vs_flip_ci_high": 1.0}
    assert common.seen_mask([{"id": 1}]) is None


def test_flat_metrics_are_json_numbers():
    y, groups, systems = _toy_reranker()
    m = rr_eval.score_reranker(y, groups, systems, resamples=20, seed=1)
    json.dumps(m)
    assert all(isinstance(v, (int, float)) for v in m.values())


def test_resample_formulas_equal_scikit_learn():
    """The numpy formulas used inside the bootstrap give scikit-learn's values (ties and one-class cases included)."""
    rng = np.random.default_rng(3)
    for _ in range(20):
        n = int(rng.integers(2, 60))
        y = rng.integers(0, 2, size=n)
        p = np.round(rng.uniform(size=n), 1)  # rounding makes ties
        for name, fn in binary.RESAMPLE_METRICS.items():
            expected = rr_eval.ROW_METRICS[name](y, p)
            assert fn(y, p) == pytest.approx(expected, nan_ok=True), name
        gold = rng.choice(list(prompts.COT_VERDICTS), size=n).astype(object)
        predicted = rng.choice([*prompts.COT_VERDICTS, cot_eval.UNPARSED], size=n).astype(object)
        assert cot_eval._macro_f1_np(cot_eval._codes(gold), cot_eval._codes(predicted)) == pytest.approx(cot_eval.macro_f1(gold, predicted))
