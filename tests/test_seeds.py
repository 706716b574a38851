"""`make seeds`: the spread of a metric across training seeds, and `make report` calling changes within it noise."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from medtune.evaluate import report, seeds
from medtune.io import InputError

from test_report import _git, _write


def test_spread_keeps_shared_outcome_metrics_only():
    runs = {42: {"accuracy": 0.647, "accuracy_ci_low": 0.58, "accuracy_ci_high": 0.71, "auroc": 0.68, "eval_seconds": 30.0,
                 "n_test": 235, "backend": "transformers"},
            1: {"accuracy": 0.562, "accuracy_ci_low": 0.50, "accuracy_ci_high": 0.63, "auroc": 0.62, "eval_seconds": 31.0,
                "n_test": 235},
            2: {"accuracy": 0.609, "auroc": 0.60, "n_test": 235}}
    s = seeds.spread(runs)
    assert sorted(s) == ["accuracy", "auroc", "n_test"]  # no CI bounds, no timings, no strings
    assert s["accuracy"]["values"] == [0.647, 0.562, 0.609]
    assert s["accuracy"]["range"] == pytest.approx(0.085) and s["accuracy"]["min"] == 0.562 and s["accuracy"]["max"] == 0.647
    assert s["accuracy"]["std"] == pytest.approx(0.04256, abs=1e-4)  # sample std, hand-computed
    assert s["n_test"]["range"] == 0
    with pytest.raises(InputError, match="at least two runs"):
        seeds.spread({42: runs[42]})


def test_effective_seed_follows_the_settings_order():
    assert seeds.effective_seed({"seed": 7}, "reranker.train.seed") == 7
    assert seeds.effective_seed({"seed": 7, "train": {"seed": 3}}, "reranker.train.seed") == 3
    assert seeds.effective_seed({"seed": 7, "train": {"seed": 3}, "reranker": {"train": {"seed": 5}}}, "reranker.train.seed") == 5
    assert seeds.effective_seed({"seed": 7, "train": {"seed": 3}}, "ner.seed") == 7  # the SFT block does not seed NER


def test_experiment_metrics_reads_dvc_exp_show_json():
    # the shape `dvc exp show --json` prints (dvc 3.x): commits, each with its experiments' revs
    shown = [
        {"rev": "workspace", "name": None, "data": {}, "experiments": None},
        {"rev": "abc123", "name": "main", "data": {}, "experiments": [
            {"name": "seed-reranker-1", "revs": [{"rev": "e1", "name": "seed-reranker-1",
                                                   "data": {"metrics": {"metrics/eval/reranker.json": {"data": {"accuracy": 0.56}}}}}]},
            {"name": "other", "revs": [{"rev": "e2", "name": "other", "data": {"metrics": {}}}]},
        ]},
    ]
    assert seeds.experiment_metrics(shown, "abc123", ["seed-reranker-1"], "metrics/eval/reranker.json") == {
        "seed-reranker-1": {"accuracy": 0.56}}
    with pytest.raises(report.DvcError, match="seed-reranker-2"):
        seeds.experiment_metrics(shown, "abc123", ["seed-reranker-2"], "metrics/eval/reranker.json")
    with pytest.raises(report.DvcError, match="no metrics/eval/reranker.json"):
        seeds.experiment_metrics(shown, "abc123", ["other"], "metrics/eval/reranker.json")


def test_classify_with_a_seed_range():
    # outside both CIs, but a reseed alone moved the metric further: noise
    assert report.classify(0.647, 0.562, (0.583, 0.706), (0.498, 0.626), seed_range=0.085) == "within seed spread"
    assert report.classify(0.647, 0.80, (0.583, 0.706), (0.75, 0.85), seed_range=0.085) == "outside CI"
    assert report.classify(0.647, 0.66, (0.583, 0.706), (0.60, 0.72), seed_range=0.085) == "within CI"


# A toy pipeline whose metric depends on a training seed, run through real `dvc exp run --temp` experiments.
TOY_STAGE = """import json, yaml
p = yaml.safe_load(open("params.yaml"))
s = p["toy"]["train"].get("seed", p["seed"])
a = round(0.5 + s / 100, 4)
json.dump({"accuracy": a, "accuracy_ci_low": a - 0.02, "accuracy_ci_high": a + 0.02, "eval_seconds": s}, open("metrics/eval/toy.json", "w"))
"""


@pytest.fixture
def toy_repo(tmp_path):
    _git(tmp_path, "init", "-q", "-b", "main")
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=tmp_path, check=True, capture_output=True)
    (tmp_path / "toy.py").write_text(TOY_STAGE)
    (tmp_path / "params.yaml").write_text("seed: 42\ntoy:\n  train: {epochs: 1}\n")
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  evaluate-toy:\n"
        f"    cmd: {sys.executable} toy.py\n"
        "    deps: [toy.py]\n    params: [seed, toy]\n"
        "    metrics:\n      - metrics/eval/toy.json:\n          cache: false\n")
    (tmp_path / "metrics/eval").mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "dvc", "repro", "-q"], cwd=tmp_path, check=True, capture_output=True)
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "toy pipeline")
    return tmp_path


def test_seed_spread_runs_dvc_experiments_and_report_uses_it(toy_repo):
    before = (toy_repo / "metrics/eval/toy.json").read_text()
    entry = seeds.seed_spread("toy", [1, 2, 42], param="toy.train.seed", cwd=toy_repo)
    assert entry["seeds"] == [42, 1, 2]  # the workspace run first; 42 is not run twice
    assert entry["metrics"]["accuracy"]["values"] == [0.92, 0.51, 0.52]
    assert entry["metrics"]["accuracy"]["range"] == pytest.approx(0.41)
    assert "eval_seconds" not in entry["metrics"]
    assert (toy_repo / "metrics/eval/toy.json").read_text() == before  # --temp: the workspace is untouched
    recorded = json.loads((toy_repo / "metrics/seed_spread.json").read_text())
    assert recorded["metrics/eval/toy.json"]["param"] == "toy.train.seed"
    # reusing the finished experiments gives the same record
    assert seeds.seed_spread("toy", [1, 2], param="toy.train.seed", cwd=toy_repo, run=False) == entry
    # running a seed again replaces its experiment (no name clash) and gives the same values
    assert seeds.seed_spread("toy", [1], param="toy.train.seed", cwd=toy_repo)["metrics"]["accuracy"]["values"] == [0.92, 0.51]

    # a change of 0.30 leaves both CIs of a narrow-CI metric but stays inside the 0.41 seed range
    _write(toy_repo / "metrics/eval/toy.json", {"accuracy": 0.62, "accuracy_ci_low": 0.60, "accuracy_ci_high": 0.64})
    _, changes = report.build_report("main", cwd=toy_repo)
    assert {c.metric: c.verdict for c in changes}["accuracy"] == "within seed spread"


def test_seed_spread_refuses_a_stale_workspace_and_unknown_tasks(toy_repo):
    (toy_repo / "params.yaml").write_text("seed: 43\ntoy:\n  train: {epochs: 1}\n")
    with pytest.raises(report.DvcError, match="not up to date"):
        seeds.seed_spread("toy", [1], param="toy.train.seed", cwd=toy_repo)
    with pytest.raises(InputError, match="no task-scoped seed param"):
        seeds.seed_spread("nli", [1], cwd=toy_repo)
