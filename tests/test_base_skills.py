"""Skill probes of a base (evaluate/base_skills.py) on a tiny locally built base."""

from __future__ import annotations

import pytest
import torch

from medtune.evaluate.base_skills import base_skills, continuation_logprob, copy_sequences


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    from lm_fixtures import save_tiny_base

    return save_tiny_base(tmp_path_factory.mktemp("skills"), pretrain_steps=2)


def test_continuation_logprob_sums_the_continuation_tokens(tiny_base):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer, model = AutoTokenizer.from_pretrained(tiny_base), AutoModelForCausalLM.from_pretrained(tiny_base).eval()
    prefix, continuation = "Text: Currently takes metformin.\nMentioned?\nmetformin:", " Yes"
    ids = tokenizer(tokenizer.bos_token + prefix + continuation, add_special_tokens=False)["input_ids"]
    n_prefix = len(tokenizer(tokenizer.bos_token + prefix, add_special_tokens=False)["input_ids"])
    with torch.inference_mode():
        logprobs = model(torch.tensor([ids])).logits[0].log_softmax(-1)
    expected = sum(logprobs[i - 1, ids[i]].item() for i in range(n_prefix, len(ids)))
    assert n_prefix < len(ids) and continuation_logprob(model, tokenizer, prefix, continuation) == pytest.approx(expected, abs=1e-5)
    assert continuation_logprob(model, tokenizer, prefix, " Yes") != continuation_logprob(model, tokenizer, prefix, " No")
    # a word the vocabulary holds as one token, cut before its last letter: the prefix alone tokenizes otherwise
    word = next(w for w in ("Ġpatient", "Ġdaily", "Ġtakes", "Ġhistory") if len(tokenizer(f" {w[1:]}.", add_special_tokens=False)["input_ids"]) == 2)
    with pytest.raises(ValueError, match="tokenizes differently"):
        continuation_logprob(model, tokenizer, f"Text: {word[1:-1]}", word[-1])


def test_base_skills_reports_both_probes_on_val_texts(tiny_base):
    split = tiny_base.parent / "corpus" / "data" / "split"  # save_tiny_base's split tree: train for the copy words, val for the probes
    skills = base_skills(tiny_base, split, copies=3, probe_documents_n=4)
    assert skills["copy_sequences"] == 3 and 0 <= skills["exact_copies"] <= 3
    assert skills["probe_lines"] == 32 and 0.0 <= skills["probe_accuracy"] <= 1.0
    assert 0 < skills["phrase_probe_lines"] < 32 and 0.0 <= skills["phrase_probe_accuracy"] <= 1.0
    assert copy_sequences(["a", "b", "c"], 5, seed=1) == copy_sequences(["a", "b", "c"], 5, seed=1)
