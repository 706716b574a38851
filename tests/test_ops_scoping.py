"""What each typical `-S` change re-runs, asked of DVC on a copy of the real dvc.yaml/params.yaml, so param
scoping cannot regress silently. Adding a stage or a params key to a stage means updating the sets below."""

from __future__ import annotations

import pytest

from medtune.ops.scoping import make_committed_pipeline, set_param, stages_to_rerun

pytestmark = pytest.mark.slow

DATA = {"fetch", "clean", "split"}
LM_TRAIN = {"train-cot", "train-reranker", "train-endpoints", "train-chem-ner", "train-qa"}
LM_EVAL = {"evaluate-cot", "evaluate-reranker", "evaluate-endpoints", "evaluate-chem-ner", "evaluate-qa"}
ALL_EVAL = LM_EVAL | {"evaluate-ner", "evaluate-nli"}
# evaluate-backends scores the reranker with both backends: it follows the reranker but reads no bootstrap param.
BACKENDS = {"evaluate-backends"}
LM_RERUN = LM_TRAIN | {"merge"} | LM_EVAL | BACKENDS
# qa.lora sets every shared lora key, so train-qa does not list `lora` (see test_ops_units) and keeps its adapter.
LORA_DIRECT = LM_TRAIN - {"train-qa"}
LORA_RERUN = LM_RERUN - {"train-qa", "evaluate-qa"}
# build-base-ner reads no data (generic sentences + the encoder), so data changes never re-run it.
EVERYTHING_BUT_NER_BASE = DATA | {"build-base"} | LM_RERUN | ALL_EVAL | {"train-ner", "train-nli"}

# cpu_threads reaches every stage that runs a model through its command (OMP_NUM_THREADS), never the data stages.
MODEL_STAGES = (EVERYTHING_BUT_NER_BASE - DATA) | {"build-base-ner"}

# change -> (stages whose own params changed, everything `dvc repro` re-runs)
CASES = {
    "lora.r=32": ({"lora.r": 32}, LORA_DIRECT, LORA_RERUN),
    "lora.alpha=64": ({"lora.alpha": 64}, LORA_DIRECT, LORA_RERUN),
    "train.epochs=3": ({"train.epochs": 3}, LM_TRAIN, LM_RERUN),
    # evaluate-reranker fits test rows to the training length, so it reads train.max_seq_len itself
    "train.max_seq_len=512": ({"train.max_seq_len": 512}, LM_TRAIN | {"evaluate-reranker"} | BACKENDS, LM_RERUN),
    "reranker.train.epochs=2": ({"reranker.train": {"epochs": 2}}, {"train-reranker", "evaluate-reranker"} | BACKENDS,
                                {"train-reranker", "merge", "evaluate-reranker"} | BACKENDS),
    "ner.lora.r=16": ({"ner.lora.r": 16}, {"train-ner"}, {"train-ner", "evaluate-ner"}),
    "ner.base.epochs=1": ({"ner.base.epochs": 1}, {"build-base-ner"}, {"build-base-ner", "train-ner", "evaluate-ner"}),
    "nli.epochs=1": ({"nli.epochs": 1}, {"train-nli"}, {"train-nli", "evaluate-nli"}),
    "data.sample.seed=7": ({"data.sample.seed": 7}, {"fetch"}, EVERYTHING_BUT_NER_BASE),
    "data.split.seed=7": ({"data.split.seed": 7}, {"split"}, EVERYTHING_BUT_NER_BASE - {"fetch", "clean"}),
    "tiny_lm.hidden_size=256": ({"tiny_lm.hidden_size": 256}, {"build-base"}, {"build-base"} | LM_RERUN),
    "eval.bootstrap=500": ({"eval.bootstrap": 500}, ALL_EVAL, ALL_EVAL),
    "cpu_threads=1": ({"cpu_threads": 1}, MODEL_STAGES, MODEL_STAGES),
    "eval.batch_size=4": ({"eval.batch_size": 4}, LM_EVAL | BACKENDS, LM_EVAL | BACKENDS),
}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    return make_committed_pipeline(tmp_path_factory.mktemp("scoping") / "repo")


def test_unchanged_params_rerun_nothing(pipeline):
    assert stages_to_rerun(pipeline, {}) == (set(), set())


@pytest.mark.parametrize("name", list(CASES))
def test_param_change_reruns_exactly(pipeline, name):
    changes, direct, everything = CASES[name]
    got_direct, got_everything = stages_to_rerun(pipeline, changes)
    assert got_direct == direct, f"{name}: stages with changed params: extra {got_direct - direct}, missing {direct - got_direct}"
    assert got_everything == everything, (
        f"{name}: dvc repro would run: extra {got_everything - everything}, missing {everything - got_everything}")


def test_a_typo_in_a_params_key_is_an_error(pipeline):
    with pytest.raises(KeyError, match="lora.rank"):
        set_param(pipeline / "params.yaml", "lora.rank", 32)
