"""The `lora.modules_to_save` hook (used by the qa sample profile for lm_head): a fully trained, tied output layer
survives save -> load and merge -> reload, so `medtune chat --model <merged>` answers like base + adapter."""

from __future__ import annotations

import pytest
from lm_fixtures import save_tiny_base

from medtune import prompts
from medtune.config import LoraSettings, MergeSettings
from medtune.train import models as model_utils
from medtune.train.merge import merge_adapter
from medtune.train.tasks import chat_ids


@pytest.fixture(scope="module")
def adapter_with_lm_head(tmp_path_factory):
    import torch
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    root = tmp_path_factory.mktemp("mts")
    base = save_tiny_base(root)
    torch.manual_seed(0)
    lora = LoraSettings(r=4, alpha=8, target_modules="q_proj,v_proj", modules_to_save="lm_head")
    config = model_utils.lora_config(lora)
    config.init_lora_weights = False
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(str(base)), config)
    with torch.no_grad():  # a trained output layer: only the peft copy changes, the base stays as it was
        for name, param in model.named_parameters():
            if param.requires_grad and "lora_" not in name:
                param.add_(torch.randn_like(param) * 0.5)
    adapter = root / "qa" / "adapter"
    model.save_pretrained(adapter)
    AutoTokenizer.from_pretrained(str(base)).save_pretrained(adapter)
    return base, adapter, model.eval()


def logits(model, tokenizer):
    import torch

    ids = torch.tensor([chat_ids(tokenizer, prompts.qa_messages("What is asthma?"), add_generation_prompt=True)])
    with torch.no_grad():
        return model(input_ids=ids).logits[0, -1]


def test_flag_and_config():
    config = model_utils.lora_config(LoraSettings(modules_to_save="lm_head, "))
    assert list(config.modules_to_save) == ["lm_head"] and config.ensure_weight_tying
    plain = model_utils.lora_config(LoraSettings())
    assert plain.modules_to_save is None and not plain.ensure_weight_tying


def test_trained_output_layer_survives_reload_and_merge(adapter_with_lm_head, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from medtune.serve.model import load_for_chat

    base, adapter, trained = adapter_with_lm_head
    tokenizer = model_utils.load_tokenizer(str(base))
    expected = logits(trained, tokenizer)
    plain_base = logits(AutoModelForCausalLM.from_pretrained(str(base)).eval(), tokenizer)
    assert (expected - plain_base).abs().max() > 0.1  # the trained output layer matters
    reloaded = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(str(base)), str(adapter)).eval()
    assert (logits(reloaded, tokenizer) - expected).abs().max() < 1e-4
    served, _ = load_for_chat(adapter=str(adapter))  # what chat --adapter uses (merged in memory)
    assert (logits(served, tokenizer) - expected).abs().max() < 1e-4
    result = merge_adapter(MergeSettings(adapter=str(adapter), output_dir=str(tmp_path / "merged")))
    assert result["max_abs_logit_diff"] < 1e-4
    merged = AutoModelForCausalLM.from_pretrained(str(tmp_path / "merged")).eval()  # plain transformers reload
    assert (logits(merged, tokenizer) - expected).abs().max() < 1e-4
