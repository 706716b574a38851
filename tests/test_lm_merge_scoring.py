"""Merging (logit equality, 4-bit refusal) and reranker scoring (one Yes/No token pair for every backend)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lm_fixtures import make_rows, save_tiny_base

from medtune import prompts
from medtune.config import ConfigError, MergeSettings
from medtune.train.merge import merge_adapter
from medtune.train.scoring import reranker_accuracy, reranker_prompt_ids, yes_no_token_ids, yes_probabilities


@pytest.fixture(scope="module")
def base_and_adapter(tmp_path_factory):
    """A tiny base and a LoRA adapter with random (non-zero) B matrices: a real, visible change of the logits."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    root = tmp_path_factory.mktemp("merge")
    base = save_tiny_base(root)
    torch.manual_seed(0)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(str(base)),
        LoraConfig(task_type="CAUSAL_LM", r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False),
    )
    adapter = root / "reranker" / "adapter"
    model.save_pretrained(adapter)
    AutoTokenizer.from_pretrained(str(base)).save_pretrained(adapter)
    return base, adapter


def test_merged_logits_equal_base_plus_adapter(base_and_adapter):
    from transformers import AutoModelForCausalLM

    base, adapter = base_and_adapter
    result = merge_adapter(MergeSettings(adapter=str(adapter), dtype="fp32"))
    assert result["max_abs_logit_diff"] < 1e-4
    assert result["adapter_max_logit_effect"] > 1e-2  # the comparison is not vacuous
    merged_dir = Path(result["output_dir"])
    assert merged_dir == adapter.parent / "merged"
    assert (merged_dir / "model.safetensors").exists() and (merged_dir / "tokenizer.json").exists()
    merged = AutoModelForCausalLM.from_pretrained(str(merged_dir))  # plain transformers, no peft
    assert not any("lora" in name for name, _ in merged.named_parameters())


def test_merge_in_bf16(base_and_adapter, tmp_path):
    _, adapter = base_and_adapter
    result = merge_adapter(MergeSettings(adapter=str(adapter), dtype="bf16", output_dir=str(tmp_path / "bf16")))
    assert result["dtype"] == "bfloat16"
    config = json.loads((tmp_path / "bf16" / "config.json").read_text())
    assert config.get("dtype", config.get("torch_dtype")) == "bfloat16"


def test_merge_refuses_a_4bit_base(base_and_adapter, tmp_path):
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    base, adapter = base_and_adapter
    quantized = AutoModelForCausalLM.from_pretrained(
        str(base), quantization_config=BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4"), device_map={"": "cpu"}
    )
    quantized.save_pretrained(tmp_path / "base-4bit")
    with pytest.raises(ConfigError, match="saved in 4-bit.*full-precision base"):
        merge_adapter(MergeSettings(adapter=str(adapter), base_model=str(tmp_path / "base-4bit"), output_dir=str(tmp_path / "m")))
    assert not (tmp_path / "m").exists()


def test_merge_needs_an_adapter(tmp_path):
    from medtune.io import InputError

    with pytest.raises(InputError, match="no adapter_config.json"):
        merge_adapter(MergeSettings(adapter=str(tmp_path)))


def test_yes_no_ids_are_identical_in_every_saved_copy(base_and_adapter):
    """Base, adapter folder and merged folder ship the same tokenizer files: vLLM and transformers read the same ids."""
    from transformers import AutoTokenizer

    base, adapter = base_and_adapter
    merged = adapter.parent / "merged"
    if not merged.exists():
        merge_adapter(MergeSettings(adapter=str(adapter)))
    ids = {yes_no_token_ids(AutoTokenizer.from_pretrained(str(path))) for path in (base, adapter, merged)}
    assert len(ids) == 1
    tokenizer = AutoTokenizer.from_pretrained(str(adapter))
    yes_id, no_id = ids.pop()
    # the first token of each answer (a whole word in the build-base vocabulary; a prefix in this small test vocab)
    assert "Yes".startswith(tokenizer.decode([yes_id])) and "No".startswith(tokenizer.decode([no_id]))


@pytest.mark.vllm
def test_vllm_tokenizer_gives_the_same_yes_no_ids(base_and_adapter):
    pytest.importorskip("vllm")
    from vllm.tokenizers import get_tokenizer
    from transformers import AutoTokenizer

    _, adapter = base_and_adapter
    assert yes_no_token_ids(get_tokenizer(str(adapter))) == yes_no_token_ids(AutoTokenizer.from_pretrained(str(adapter)))


def test_p_yes_is_the_softmax_over_the_two_answer_logits(base_and_adapter):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base, adapter = base_and_adapter
    tokenizer = AutoTokenizer.from_pretrained(str(adapter))
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(str(base)), str(adapter)).eval()
    rows = make_rows(3, seed=21)["reranker"]
    pairs = [(r["patient_text"], r["criterion"]) for r in rows]
    batched = yes_probabilities(model, tokenizer, pairs, max_seq_len=256, batch_size=5)
    single = [yes_probabilities(model, tokenizer, [pair], max_seq_len=256)[0] for pair in pairs]
    assert batched == pytest.approx(single, abs=1e-5)  # right padding does not leak into the scored position
    yes_id, no_id = yes_no_token_ids(tokenizer)
    ids = reranker_prompt_ids(tokenizer, *pairs[0], max_seq_len=256)
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0, -1]
    expected = torch.softmax(logits[[yes_id, no_id]], dim=-1)[0].item()
    assert batched[0] == pytest.approx(expected, abs=1e-5)
    assert ids == tokenizer.apply_chat_template(prompts.reranker_messages(*pairs[0]), add_generation_prompt=True,
                                                tokenize=True, return_dict=True)["input_ids"]
    accuracy = reranker_accuracy(model, tokenizer, rows, 256)
    assert 0.0 <= accuracy["accuracy"] <= 1.0 and accuracy["rows"] == len(rows)


def test_fp32_merge_tolerance_grows_with_the_logits_only_past_10():
    from medtune.train.merge import logit_tolerance

    assert logit_tolerance("float32", 3.0) == logit_tolerance("float32", 10.0) == 1e-4
    assert logit_tolerance("float32", 27.3) == pytest.approx(2.73e-4)  # the qa adapter's logits: measured diff 1.14e-4
    assert logit_tolerance("bfloat16", 27.3) == 0.25 and logit_tolerance("float16", 1.0) == 0.05
