"""Merge a LoRA adapter into its base: one self-contained model folder, checked against base+adapter logits.

The check is what makes a merge trustworthy: on a few fixed prompts the merged model's logits must equal the
base+adapter logits (max abs diff reported; < 1e-4 in fp32, or 1e-5 of the largest |logit| when logits exceed 10),
while the adapter's own effect on the logits is reported next to it so a reader can see the comparison is not
vacuous (FACTS.md: ~6e-7 vs ~2).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from medtune import prompts
from medtune.config import ConfigError, MergeSettings
from medtune.io import InputError, atomic_path
from medtune.train import models as model_utils
from medtune.train.tasks import chat_ids

log = logging.getLogger(__name__)

TOLERANCE = {"float32": 1e-4, "bfloat16": 0.25, "float16": 0.05}  # half precision rounds the merged weights
# fp32 rounding error grows with the logits' size: x @ (W + BA) and x @ W + (x @ B) @ A round differently. Measured:
# the qa adapter (trained lm_head) gives logits up to 27.3 and a max diff of 1.14e-4, 4e-6 of the logit (~60 ulps of
# fp32 at 27). So fp32 allows max(1e-4, 1e-5 x the largest |logit|): 1e-4 for logits up to 10, as before.
FP32_RELATIVE_TOLERANCE = 1e-5
MERGE_DTYPES = {"fp32": "float32", "float32": "float32", "bf16": "bfloat16", "bfloat16": "bfloat16", "fp16": "float16", "float16": "float16"}

# Fixed check prompts in the runtime formats of the chat tasks.
CHECK_MESSAGES = [
    prompts.reranker_messages("The patient is 54 years old. Latest HbA1c was 7.2%.", "HbA1c below 8%"),
    prompts.cot_messages("Never smoked. eGFR is 75 mL/min.", "Current smoker"),
    prompts.reranker_messages("No history of hypertension. Takes metformin 500 mg.", "Age 18 years or older"),
    prompts.cot_messages("She has a history of hypertension.", "Diagnosed arterial hypertension"),
    prompts.qa_messages("What is HbA1c?"),
]


def refuse_quantized_base(base: str) -> None:
    """A 4-bit base cannot take merged weights: merging needs the full-precision weights."""
    config_path = Path(base) / "config.json"
    if not config_path.exists():
        return
    quant = json.loads(config_path.read_text()).get("quantization_config") or {}
    if quant.get("load_in_4bit") or quant.get("_load_in_4bit") or quant.get("quant_method") in ("bitsandbytes_4bit",):
        raise ConfigError(
            f"{base}: this base model is saved in 4-bit; merging a LoRA adapter needs the full-precision base "
            "(QLoRA adapters merge into the fp32/bf16/fp16 original: pass it with --base-model)"
        )


def logit_tolerance(dtype: str, largest_logit: float) -> float:
    """Allowed max |merged - (base+adapter)| logit difference."""
    if dtype == "float32":
        return max(TOLERANCE[dtype], FP32_RELATIVE_TOLERANCE * largest_logit)
    return TOLERANCE[dtype]


def merge_adapter(settings: MergeSettings) -> dict:
    """Merge `settings.adapter` into its base, verify logits, write `settings.output_dir`; returns the check numbers."""
    import torch
    from peft import PeftConfig, PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    adapter = Path(settings.adapter)
    if not (adapter / "adapter_config.json").exists():
        raise InputError(f"{adapter}: no adapter_config.json (train the adapter first)")
    dtype = MERGE_DTYPES.get(settings.dtype.lower())
    if dtype is None:
        raise ConfigError(f"merge.dtype: {settings.dtype!r} is not one of fp32, bf16, fp16")
    base = settings.base_model or PeftConfig.from_pretrained(str(adapter)).base_model_name_or_path
    refuse_quantized_base(base)
    output_dir = Path(settings.output_dir or adapter.parent / "merged")

    tokenizer = AutoTokenizer.from_pretrained(str(adapter))
    model = AutoModelForCausalLM.from_pretrained(model_utils.check_model_path(base), dtype=dtype)
    if getattr(model, "is_loaded_in_4bit", False):
        raise ConfigError(f"{base}: loaded in 4-bit; merging needs a full-precision base")
    model = PeftModel.from_pretrained(model, str(adapter))
    model.eval()
    batches = [torch.tensor([chat_ids(tokenizer, m, add_generation_prompt=True)]) for m in CHECK_MESSAGES[: settings.check_prompts]]
    with torch.inference_mode():
        with model.disable_adapter():
            base_logits = [model(ids).logits.float() for ids in batches]
        adapted = [model(ids).logits.float() for ids in batches]
        merged = model.merge_and_unload()
        merged_logits = [merged(ids).logits.float() for ids in batches]
    max_diff = max((a - m).abs().max().item() for a, m in zip(adapted, merged_logits))
    effect = max((a - b).abs().max().item() for a, b in zip(adapted, base_logits))
    log.info("merge %s: max |merged - (base+adapter)| = %.2e (adapter moves logits by up to %.3f), dtype %s",
             adapter, max_diff, effect, dtype)
    scale = max(a.abs().max().item() for a in adapted)
    tolerance = logit_tolerance(dtype, scale)
    if max_diff > tolerance:
        raise RuntimeError(f"{adapter}: merged logits differ from base+adapter by {max_diff:.3g} (> {tolerance:.3g} in {dtype}, "
                           f"largest |logit| {scale:.1f})")
    with atomic_path(output_dir, is_dir=True) as tmp:
        merged.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return {"max_abs_logit_diff": max_diff, "tolerance": tolerance, "max_abs_logit": round(scale, 3), "adapter_max_logit_effect": round(effect, 4), "dtype": dtype,
            "prompts": len(batches), "base_model": base, "output_dir": str(output_dir)}
