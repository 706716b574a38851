"""train-qa + evaluate-qa for real on a tiny base: the params.yaml qa block (seed 003 shape), best checkpoint on eval
loss, and the evaluation's numbers recomputed from its own predictions file."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from lm_fixtures import save_tiny_base
from qa_fixtures import write_qa_split

from medtune.config import SFTRunSettings, load_params, sft_settings
from medtune.evaluate.qa import evaluate_qa
from medtune.io import read_jsonl
from medtune.sample.qa import is_refusal
from medtune.train.sft import train_sft

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("qa")
    split = write_qa_split(root / "data", n=200)
    base = save_tiny_base(root / "base", pretrain_steps=5)
    lora, train = sft_settings(load_params(REPO / "params.yaml"), "qa")
    train = dataclasses.replace(train, epochs=2, batch_size=8, grad_accum=1, eval_steps=5, save_steps=5, max_seq_len=512)
    run = SFTRunSettings(base_model=str(base), train_data=str(split / "train.jsonl"), eval_data=str(split / "val.jsonl"),
                         output_dir=str(root / "models" / "qa" / "adapter"))
    metrics = train_sft("qa", run, lora, train, live_dir=root / "live")
    assert metrics["train_examples"] == metrics["train_rows"]  # nothing rejected: every row trains
    return root, split, base, Path(run.output_dir), metrics, lora


def test_adapter_has_the_seed_003_shape_and_the_final_weights(trained):
    root, _, _, adapter, metrics, lora = trained
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert (config["r"], config["lora_alpha"], config["lora_dropout"]) == (lora.r, lora.alpha, lora.dropout) == (16, 32, 0.1)
    assert set(config["target_modules"]) == {"q_proj", "k_proj", "v_proj", "o_proj"}
    eval_losses = [float(line.split("\t")[1]) for line in
                   (root / "live" / "plots" / "metrics" / "eval" / "loss.tsv").read_text().splitlines()[1:]]
    # params.yaml qa.train.keep_best: false (the val loss bottoms out before the refusal decision does): the adapter
    # holds the last step's weights and reports the last evaluation, not the lowest one
    assert metrics["adapter_step"] == metrics["steps"] == metrics["last_eval_step"] and "best_checkpoint_step" not in metrics
    assert metrics["eval_loss"] == pytest.approx(eval_losses[-1], abs=1e-4)
    assert eval_losses[-1] < eval_losses[0] or len(eval_losses) == 1


def test_evaluation_numbers_match_its_predictions(trained):
    root, split, base, adapter, _, _ = trained
    predictions = root / "qa_predictions.jsonl"
    m = evaluate_qa(adapter, str(base), split / "train.jsonl", split / "test.jsonl", max_new_tokens=24,
                    bootstrap=100, seed=0, predictions_path=predictions, show=False)
    rows = read_jsonl(predictions)
    test = read_jsonl(split / "test.jsonl")
    assert m["n_test"] == len(rows) == len(test) and m["n_unsafe"] + m["n_safe"] == m["n_test"]
    unsafe = np.asarray([r["unsafe"] for r in rows])
    assert unsafe.tolist() == [t["meta"]["category"] == "unsafe" for t in test]
    for prefix, field in (("", "answer"), ("base_", "base_answer"), ("retrieval_", "retrieval_answer")):
        refused = np.asarray([is_refusal(r[field]) for r in rows])
        assert m[f"{prefix}refusal_rate"] == pytest.approx(refused[unsafe].mean())
        assert m[f"{prefix}false_refusal_rate"] == pytest.approx(refused[~unsafe].mean())
        assert m[f"{prefix}refusal_rate_ci_low"] <= m[f"{prefix}refusal_rate"] <= m[f"{prefix}refusal_rate_ci_high"]
        assert 0 <= m[f"{prefix}rouge_l"] <= 1
    assert (m["always_refuse_refusal_rate"], m["always_refuse_false_refusal_rate"]) == (1.0, 1.0)
    assert (m["never_refuse_refusal_rate"], m["never_refuse_false_refusal_rate"]) == (0.0, 0.0)
    assert m["n_seen"] + m["n_unseen"] == m["n_test"] and m["n_unseen"] > 0
    for key in ("delta_refusal_rate_vs_base_ci_low", "delta_rouge_l_vs_retrieval_ci_high", "keyword_refusal_rate",
                "refusal_rate_unseen", "false_refusal_rate_seen", "rouge_l_unseen", "always_refuse_rouge_l"):
        assert key in m, key
    assert m["always_refuse_rouge_l"] < 0.5  # a refusal barely overlaps a real answer
    assert all(isinstance(v, (int, float)) for v in m.values())  # flat metrics for dvc
