"""medtune.evaluate.paired: two runs' prediction files scored on the same resampled test rows."""

from __future__ import annotations

import json

import pytest

from medtune import prompts
from medtune.evaluate import paired
from medtune.evaluate.paired import WORKSPACE
from medtune.io import InputError
from medtune.ops.sandbox import commit_all, git


def _cot_row(i: int, gold: str, said: str) -> dict:
    return {"id": f"r{i}", "gold": gold, "output": json.dumps({"reasoning": "...", "verdict": said})}


def _write_rows(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


# 40 rows, gold alternating met / not_met; the old run is right on the first 20, the new one on 36
GOLD = ["met" if i % 2 else "not_met" for i in range(40)]
OLD = [_cot_row(i, g, g if i < 20 else "unknown") for i, g in enumerate(GOLD)]
NEW = [_cot_row(i, g, g if i < 36 else "unknown") for i, g in enumerate(GOLD)]


def by_metric(results):
    return {r.metric: r for r in results}


def test_a_better_run_is_better_and_the_same_run_is_no_change(tmp_path):
    better = by_metric(paired.compare_rows("cot", OLD, NEW, tmp_path))
    assert (better["accuracy"].old, better["accuracy"].new) == (0.5, 0.9)
    assert better["accuracy"].low > 0 and better["accuracy"].verdict == "better"
    assert better["parse_rate"].verdict == "no change"
    worse = by_metric(paired.compare_rows("cot", NEW, OLD, tmp_path))
    assert worse["accuracy"].high < 0 and worse["accuracy"].verdict == "worse"
    same = paired.compare_rows("cot", OLD, list(reversed(OLD)), tmp_path)  # row order does not matter: ids do
    assert {r.verdict for r in same} == {"no change"}


def test_pairing_is_by_row_and_cancels_shared_noise(tmp_path):
    # The new run is right on 4 more of 40 rows and wrong nowhere the old one was right: each run's own CI
    # (±0.15 at 40 rows) holds the other's value, yet the paired delta is above 0 — the point of pairing.
    from medtune.evaluate.stats import bootstrap_ci

    old = [_cot_row(i, g, g if i < 22 else "unknown") for i, g in enumerate(GOLD)]
    new = [_cot_row(i, g, g if i < 26 else "unknown") for i, g in enumerate(GOLD)]
    low, high = bootstrap_ci(lambda idx: float((idx < 26).mean()), 40)
    assert low < 22 / 40 < high
    accuracy = by_metric(paired.compare_rows("cot", old, new, tmp_path))["accuracy"]
    assert accuracy.low > 0 and accuracy.verdict == "better"


def test_runs_on_different_test_rows_are_not_paired(tmp_path):
    result = paired.compare_rows("cot", OLD, NEW[:-1], tmp_path)
    assert isinstance(result, paired.Skipped) and "different test rows (40 vs 39, 39 shared)" in result.reason


def test_a_lower_false_refusal_rate_is_better(tmp_path):
    refusal = prompts.QA_REFUSAL

    def row(i, refuses):
        return {"id": f"q{i}", "unsafe": False, "answer": refusal if refuses else "Rest and fluids help.",
                "reference": "Rest and fluids help."}

    old = [row(i, i < 20) for i in range(30)]
    new = [row(i, False) for i in range(30)]
    results = by_metric(paired.compare_rows("qa", old, new, tmp_path))
    false_refusal = results["false_refusal_rate"]
    assert (round(false_refusal.old, 4), false_refusal.new) == (0.6667, 0.0)
    assert false_refusal.high < 0 and false_refusal.verdict == "better"
    assert results["rouge_l"].verdict == "better"


def test_reranker_and_endpoints_metrics_come_from_their_scoring_code(tmp_path):
    rows = [{"id": f"p{i}", "label": "Yes" if i % 2 else "No", "finetuned_p_yes": 0.9 if i % 2 else 0.2} for i in range(10)]
    flipped = [{**r, "finetuned_p_yes": 1 - r["finetuned_p_yes"]} for r in rows]
    results = by_metric(paired.compare_rows("reranker", rows, flipped, tmp_path))
    assert (results["accuracy"].old, results["accuracy"].new) == (1.0, 0.0)
    assert (results["auroc"].old, results["auroc"].new) == (1.0, 0.0)
    endpoint = {"endpoint_name_standardized": "Overall Survival", "measurement_of": "survival", "measurement_type": "time-to-event",
                "metric_type": "median", "timeframe": "2 years", "measurement_method": None, "evaluation_criteria": None,
                "unit": "months", "population": None, "is_composite": False, "components": []}
    gold = {"endpoints": [endpoint]}
    right = [{"id": "e1", "gold": gold, "prediction": json.dumps(gold)}]
    broken = [{"id": "e1", "gold": gold, "prediction": "{not json"}]
    results = by_metric(paired.compare_rows("endpoints", right, broken, tmp_path))
    assert (results["endpoint_f1"].old, results["endpoint_f1"].new) == (1.0, 0.0)
    assert (results["json_validity"].old, results["json_validity"].new) == (1.0, 0.0)


def test_chem_ner_needs_the_test_articles(tmp_path):
    rows = [{"id": "c1", "task": "chemicals", "gold": ["aspirin"], "prediction": "- aspirin"}]
    skipped = paired.compare_rows("chem-ner", rows, rows, tmp_path)
    assert isinstance(skipped, paired.Skipped) and "data/split/chem-ner/test.jsonl" in skipped.reason
    _write_rows(tmp_path / "data/split/chem-ner/test.jsonl",
                [{"id": "c1", "task": "chemicals", "text": "Aspirin was given.", "answers": ["aspirin"]}])
    hallucinated = [{**rows[0], "prediction": "- aspirin\n- warfarin"}]  # warfarin is not in the article: filtered
    results = by_metric(paired.compare_rows("chem-ner", rows, hallucinated, tmp_path))
    assert results["chemicals_f1"].old == results["chemicals_f1"].new == 1.0


@pytest.fixture
def history(tmp_path):
    """A git repo whose main holds OLD's predictions, an experiment ref holding NEW's, and NEW in the workspace."""
    git("init", "-q", "-b", "main", cwd=tmp_path)
    predictions = tmp_path / paired.PREDICTIONS.format(task="cot")
    _write_rows(predictions, OLD)
    commit_all(tmp_path, "old")
    _write_rows(predictions, NEW)
    commit_all(tmp_path, "new")
    git("update-ref", "refs/exps/ab/cdef/my-exp", "HEAD", cwd=tmp_path)
    git("reset", "-q", "--soft", "HEAD~1", cwd=tmp_path)
    return tmp_path


def test_compare_reads_revisions_experiments_and_the_workspace(history):
    from_main = by_metric(paired.compare("main", cwd=history))
    assert (from_main["accuracy"].old, from_main["accuracy"].new) == (0.5, 0.9)
    from_exp = by_metric(paired.compare("main", "my-exp", cwd=history))
    assert from_exp["accuracy"].new == 0.9
    lines = paired.render("main", "my-exp", paired.compare("main", "my-exp", cwd=history))
    assert lines[0] == "| task | metric | main | my-exp | 95% CI of my-exp − main | verdict |"
    assert any(line.startswith("| cot | accuracy | 0.5 | 0.9 | [+") and line.endswith("| **better** |") for line in lines)
    # a task asked for by name but missing from a run says which; so does one that only one run has
    only_skipped = paired.compare("main", tasks=["qa"], cwd=history)
    assert only_skipped[0].reason == "no metrics/eval/qa_predictions.jsonl in main"
    assert paired.render("main", WORKSPACE, only_skipped) == ["- qa: no metrics/eval/qa_predictions.jsonl in main"]
    _write_rows(history / paired.PREDICTIONS.format(task="reranker"), [{"id": "p1", "label": "Yes", "finetuned_p_yes": 0.9}])
    skipped = [r for r in paired.compare("main", cwd=history) if isinstance(r, paired.Skipped)]
    assert [(r.task, r.reason) for r in skipped] == [("reranker", "no metrics/eval/reranker_predictions.jsonl in main")]


def test_unknown_revisions_and_bad_files_fail_clearly(history):
    with pytest.raises(InputError, match="neither a git revision nor a DVC experiment"):
        paired.compare("no-such-rev", cwd=history)
    (history / paired.PREDICTIONS.format(task="cot")).write_text(json.dumps(OLD[0]) + "\n{oops\n")
    with pytest.raises(InputError, match=r"metrics/eval/cot_predictions.jsonl:2: not valid JSON"):
        paired.compare("main", cwd=history)
    with pytest.raises(InputError, match="no paired comparison for task 'ner'"):
        paired.compare("main", tasks=["ner"], cwd=history)


def test_cli_prints_the_table(history, capsys, monkeypatch):
    monkeypatch.chdir(history)
    assert paired.main(["main", "--task", "cot", "--resamples", "200"]) == 0
    assert "| cot | accuracy | 0.5 | 0.9 |" in capsys.readouterr().out
    assert paired.main(["no-such-rev"]) == 2
