"""NLI: label mapping (seed 004), data validation, settings, metrics, baselines and the seen/unseen split."""

import json

import numpy as np
import pytest
from nli_fixtures import make_nli_rows

from medtune.config import ConfigError
from medtune.evaluate import nli as ev
from medtune.io import InputError, write_jsonl
from medtune.train import nli as tr


# ---- label mapping ---------------------------------------------------------------------------------------


def test_label_ids_follow_seed_004():
    assert tr.LABEL2ID == {"entailment": 0, "neutral": 1, "contradiction": 2}
    assert tr.ID2LABEL == {0: "entailment", 1: "neutral", 2: "contradiction"}


def test_read_rows_adds_label_ids(tmp_path):
    rows = make_nli_rows(3, seed=1)
    write_jsonl(tmp_path / "nli.jsonl", rows)
    loaded = tr.read_nli_rows(tmp_path / "nli.jsonl")
    assert [r["label_id"] for r in loaded] == [tr.LABEL2ID[r["label"]] for r in rows]


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"premise": "p", "hypothesis": "h", "label": "Entailment"}', "label 'Entailment' is not one of"),
        ('{"premise": "p", "hypothesis": "h", "label": 0}', "label 0 is not one of"),
        ('{"premise": "", "hypothesis": "h", "label": "neutral"}', "'premise' must be a non-empty string"),
        ('{"premise": "p", "label": "neutral"}', "'hypothesis' must be a non-empty string"),
        ('{"premise": "p", "hypothesis": "h", "label": "neutral"', "invalid JSON"),
        ('["p", "h", "neutral"]', "expected a JSON object"),
    ],
)
def test_bad_rows_fail_naming_file_and_line(tmp_path, line, message):
    path = tmp_path / "test.jsonl"
    path.write_text('{"premise": "p", "hypothesis": "h", "label": "neutral"}\n\n' + line + "\n")
    with pytest.raises(InputError, match=message) as err:
        tr.read_nli_rows(path)
    assert f"{path}:3:" in str(err.value)


def test_empty_file_is_an_error(tmp_path):
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(InputError, match="no rows"):
        tr.read_nli_rows(tmp_path / "empty.jsonl")


def test_foreign_head_with_another_label_order_is_refused():
    class Config:
        id2label = {0: "contradiction", 1: "neutral", 2: "entailment"}

    with pytest.raises(ConfigError, match="orders labels"):
        tr.check_label_order(Config(), "some/mnli-model")
    Config.id2label = {0: "LABEL_0", 1: "LABEL_1"}  # a plain encoder: a new head gets our names
    tr.check_label_order(Config(), "encoder")
    Config.id2label = {0: "Entailment", 1: "Neutral", 2: "Contradiction"}
    tr.check_label_order(Config(), "same order, other case")


# ---- settings --------------------------------------------------------------------------------------------


def test_defaults_are_seed_004():
    s = tr.NliSettings()
    assert (s.learning_rate, s.batch_size, s.grad_accum, s.max_seq_len, s.epochs, s.eval_batch_size) == (
        3e-5, 16, 2, 512, 10.0, 8
    )
    assert s.warmup_ratio == 0.5 and s.method == "full"


def test_settings_from_params_take_model_and_seed_from_their_own_keys():
    params = {"seed": 7, "models": {"nli": "some/encoder"}, "nli": {"epochs": 2, "method": "lora", "lora": {"r": 4}}}
    settings, lora = tr.nli_settings(params)
    assert (settings.model, settings.seed, settings.epochs, settings.method) == ("some/encoder", 7, 2.0, "lora")
    assert lora.r == 4 and lora.alpha == 16


@pytest.mark.parametrize(
    "block, message",
    [
        ({"model": "x"}, "models.nli"),
        ({"epoch": 3}, "unknown key"),
        ({"method": "qlora"}, "nli.method"),
        ({"warmup_ratio": 1.5}, "warmup_ratio"),
        ({"batch_size": 0}, "batch_size"),
        ({"lora": {"rank": 8}}, "nli.lora: unknown key"),
    ],
)
def test_bad_settings_are_named(block, message):
    with pytest.raises(ConfigError, match=message):
        tr.nli_settings({"nli": block})


def test_cli_flags_map_onto_the_same_fields():
    import argparse

    from medtune.config import LoraSettings, flag_overrides

    parser = argparse.ArgumentParser()
    tr.add_nli_train_parser(parser.add_subparsers())
    args = parser.parse_args(["nli", "--epochs", "1", "--method", "lora", "--lora-rank", "4", "--max-seq-len", "64"])
    assert flag_overrides(args, tr.NliSettings) == {"epochs": 1.0, "method": "lora", "max_seq_len": 64}
    assert flag_overrides(args, LoraSettings) == {"r": 4}
    with pytest.raises(SystemExit):
        parser.parse_args(["nli", "--method", "qlora"])


# ---- metrics ---------------------------------------------------------------------------------------------


def test_accuracy_and_macro_f1_by_hand():
    y_true = np.array([0, 0, 1, 1, 2, 2])
    y_pred = np.array([0, 1, 1, 1, 2, 0])
    assert ev.accuracy(y_true, y_pred) == pytest.approx(4 / 6)
    # per-class F1: entailment p=1/2 r=1/2 → .5; neutral p=2/3 r=1 → .8; contradiction p=1 r=1/2 → 2/3
    assert ev.macro_f1(y_true, y_pred) == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)


def test_macro_f1_counts_a_label_the_model_never_predicts():
    y_true = np.array([0, 1, 2])
    assert ev.macro_f1(y_true, np.array([0, 0, 0])) == pytest.approx((0.5 + 0 + 0) / 3)


def test_score_system_gives_seeded_cis_around_the_estimate():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 3, 300)
    y_pred = np.where(rng.random(300) < 0.7, y_true, rng.integers(0, 3, 300))
    scores = ev.score_system(y_true, y_pred, "x_", resamples=300, seed=1)
    for name in ("accuracy", "macro_f1"):
        assert scores[f"x_{name}_ci_low"] < scores[f"x_{name}"] < scores[f"x_{name}_ci_high"]
        assert scores[f"x_{name}_ci_high"] - scores[f"x_{name}_ci_low"] < 0.2
    assert scores == ev.score_system(y_true, y_pred, "x_", resamples=300, seed=1)


def test_paired_delta_separates_better_from_equal_systems():
    y_true = np.array([0, 1, 2] * 40)
    good = y_true.copy()
    bad = np.zeros_like(y_true)
    deltas = ev.paired_deltas(y_true, good, bad, "bad", resamples=200, seed=0)
    assert deltas["delta_accuracy_vs_bad_ci_low"] > 0.5
    same = ev.paired_deltas(y_true, good, good, "same", resamples=200, seed=0)
    assert same["delta_accuracy_vs_same_ci_low"] == same["delta_accuracy_vs_same_ci_high"] == 0.0


def test_per_class_report_is_flat_and_named():
    report = ev.per_class_report(np.array([0, 1, 2, 2]), np.array([0, 2, 2, 2]))
    assert report["support_contradiction"] == 2 and report["recall_neutral"] == 0.0
    assert report["precision_contradiction"] == pytest.approx(2 / 3)
    assert all(isinstance(v, (int, float)) for v in report.values())


# ---- baselines -------------------------------------------------------------------------------------------


def _rows(pairs):
    return [{"premise": p, "hypothesis": h, "label": lab, "label_id": tr.LABEL2ID[lab]} for p, h, lab in pairs]


def test_majority_baseline_predicts_the_training_majority():
    train = _rows([("p", "h", "neutral")] * 3 + [("p", "h", "entailment")])
    assert list(ev.majority_predictions(train, train[:2])) == [1, 1]


def test_hypothesis_only_baseline_finds_the_artefact_and_never_reads_the_premise():
    # Artefact: negation words in the hypothesis mark contradictions (as in crowd-sourced NLI data).
    train = _rows(
        [(f"premise {i}", f"the patient does not have condition {i}", "contradiction") for i in range(30)]
        + [(f"premise {i}", f"the patient has condition {i}", "entailment") for i in range(30)]
    )
    test = _rows([("anything at all", "the patient does not have asthma", "entailment"),
                  ("other text", "the patient has asthma", "entailment")])
    assert list(ev.hypothesis_only_predictions(train, test, seed=0)) == [2, 0]
    swapped = [dict(r, premise="a completely different premise") for r in test]
    assert list(ev.hypothesis_only_predictions(train, swapped, seed=0)) == [2, 0]


# ---- seen / unseen ---------------------------------------------------------------------------------------


def test_seen_mask_prefers_the_split_verdict():
    test = [{"meta": {"unseen": True}}, {"meta": {"unseen": False}}]
    assert list(ev.seen_mask([], test)) == [False, True]


def test_seen_mask_from_templates_and_names():
    train = [{"meta": {"templates": ["a", "b"], "names": ["asthma"]}}, {"meta": {"template": "c", "names": []}}]
    test = [
        {"meta": {"templates": ["a"], "names": ["asthma"]}},
        {"meta": {"template": "c"}},
        {"meta": {"templates": ["z"], "names": ["asthma"]}},
        {"meta": {"templates": ["a"], "names": ["gout"]}},
    ]
    assert list(ev.seen_mask(train, test)) == [True, True, False, False]


def test_no_meta_no_split():
    assert ev.seen_mask([{}], [{"premise": "p"}]) is None


def test_confusion_outputs(tmp_path):
    ev.write_confusion(np.array([0, 1, 2]), np.array([0, 2, 2]), tmp_path / "c.json", tmp_path / "c.png")
    rows = json.loads((tmp_path / "c.json").read_text())
    assert rows[1] == {"actual": "neutral", "predicted": "contradiction"}
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
