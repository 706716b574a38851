"""`make report`: metric diff against a git revision with CI-based significance flags, in a small git + dvc repo."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from medtune.evaluate import report


def test_classify_rules():
    assert report.classify(0.80, 0.95, (0.70, 0.90), (0.90, 0.99)) == "outside CI"
    assert report.classify(0.80, 0.85, (0.70, 0.90), (0.75, 0.93)) == "within CI"
    # the new value leaves the old CI, but the old value is inside the (wide) new CI: not a clear signal
    assert report.classify(0.80, 0.95, (0.70, 0.90), (0.60, 1.00)) == "within CI"
    assert report.classify(0.80, 0.95, None, (0.90, 0.99)) == "outside CI"
    assert report.classify(3.0, 4.0, None, None) == "no CI"
    assert report.classify(None, 0.5, None, None) == "added" and report.classify(0.5, None, None, None) == "removed"


def test_delta_verdicts():
    rows = report.delta_verdicts({"m.json": {"delta_accuracy_vs_base_ci_low": 0.05, "delta_accuracy_vs_base_ci_high": 0.2,
                                             "delta_f1_vs_lexical_ci_low": -0.1, "delta_f1_vs_lexical_ci_high": 0.1,
                                             "delta_auroc_vs_majority_ci_low": -0.3, "delta_auroc_vs_majority_ci_high": -0.1}})
    assert [(m, ref, v) for _, m, ref, _, _, v in rows] == [
        ("accuracy", "base", "better"), ("auroc", "majority", "worse"), ("f1", "lexical", "not distinguishable")]


def _git(cwd, *args):
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com"}
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env=env)


def _write(path, values):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values))


@pytest.fixture
def repo(tmp_path):
    _git(tmp_path, "init", "-q", "-b", "main")
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=tmp_path, check=True, capture_output=True)
    (tmp_path / "dvc.yaml").write_text("metrics:\n  - metrics/eval/reranker.json\n  - metrics/eval/cot.json\n")
    (tmp_path / "params.yaml").write_text("lora:\n  r: 8\n")
    _write(tmp_path / "metrics/eval/reranker.json", {
        "accuracy": 0.70, "accuracy_ci_low": 0.64, "accuracy_ci_high": 0.76,
        "auroc": 0.80, "auroc_ci_low": 0.75, "auroc_ci_high": 0.85, "n_test": 262,
        "delta_accuracy_vs_base_ci_low": 0.01, "delta_accuracy_vs_base_ci_high": 0.1})
    _write(tmp_path / "metrics/eval/cot.json", {"parse_rate": 0.5, "parse_rate_ci_low": 0.4, "parse_rate_ci_high": 0.6,
                                               "eval_runtime_s": 30.0})
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "baseline")
    return tmp_path


def test_report_flags_signal_and_noise(repo):
    # the workspace: a real accuracy gain, an AUROC wobble, a parse-rate gain, a timing change, lora.r changed
    _write(repo / "metrics/eval/reranker.json", {
        "accuracy": 0.85, "accuracy_ci_low": 0.80, "accuracy_ci_high": 0.89,
        "auroc": 0.81, "auroc_ci_low": 0.76, "auroc_ci_high": 0.86, "n_test": 262,
        "delta_accuracy_vs_base_ci_low": -0.02, "delta_accuracy_vs_base_ci_high": 0.08})
    _write(repo / "metrics/eval/cot.json", {"parse_rate": 0.99, "parse_rate_ci_low": 0.97, "parse_rate_ci_high": 1.0,
                                           "eval_runtime_s": 41.0})
    (repo / "params.yaml").write_text("lora:\n  r: 32\n")

    text, changes = report.build_report("main", cwd=repo)
    verdicts = {(c.path, c.metric): c.verdict for c in changes}
    assert verdicts == {
        ("metrics/eval/reranker.json", "accuracy"): "outside CI",
        ("metrics/eval/reranker.json", "auroc"): "within CI",
        ("metrics/eval/cot.json", "parse_rate"): "outside CI",
        ("metrics/eval/cot.json", "eval_runtime_s"): "no CI",
    }
    written = (repo / "metrics/report.md").read_text()
    assert written == text
    assert "**2 outside the 95% bootstrap CI**" in text
    assert "| metrics/eval/reranker.json | accuracy | 0.7 | 0.85 | +0.15 | [0.64, 0.76] | [0.8, 0.89] | — | **outside CI** |" in text
    assert "| metrics/eval/reranker.json | accuracy | base | [-0.02, +0.08] | **not distinguishable** |" in text
    assert "lora.r" in text and "dvc metrics diff main --md" in text


def test_report_against_an_unknown_rev_fails_clearly(repo):
    with pytest.raises(report.DvcError, match="no-such-rev"):
        report.build_report("no-such-rev", cwd=repo)


def test_report_pairs_the_prediction_files_of_both_runs(repo):
    predictions = repo / "metrics/eval/reranker_predictions.jsonl"
    rows = [{"id": f"p{i}", "label": "Yes" if i % 2 else "No", "finetuned_p_yes": 0.9 if i % 2 else 0.2} for i in range(60)]
    predictions.write_text("".join(json.dumps(r) + "\n" for r in rows))
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "predictions")
    # the workspace run gets the first 12 rows wrong
    worse = [{**r, "finetuned_p_yes": 1 - r["finetuned_p_yes"]} if i < 12 else r for i, r in enumerate(rows)]
    predictions.write_text("".join(json.dumps(r) + "\n" for r in worse))

    text, _ = report.build_report("main", cwd=repo)
    assert "## Workspace vs `main` on the same test rows (paired bootstrap over the prediction files)" in text
    line = next(line for line in text.splitlines() if line.startswith("| reranker | accuracy |"))
    assert line.startswith("| reranker | accuracy | 1 | 0.8 | [-") and line.endswith("| **worse** |")
