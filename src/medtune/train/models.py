"""Loading a causal-LM base (tiny local Llama or a real hub model) with dtype / 4-bit resolution and LoRA config.

The QLoRA wiring follows TRL's helpers (`ModelConfig` + `get_quantization_config`): the only medtune logic is
resolving the `auto` settings for the machine at hand and failing clearly on an unusable model path.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from medtune.config import ConfigError, LoraSettings

log = logging.getLogger(__name__)

DTYPE_NAMES = {"fp32": "float32", "float32": "float32", "bf16": "bfloat16", "bfloat16": "bfloat16",
               "fp16": "float16", "float16": "float16"}


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def resolve_dtype(setting: str) -> str:
    """`auto` = bf16 on a GPU that supports it, else fp32 (this CPU has no bf16 units: ~10x slower, FACTS.md)."""
    import torch

    setting = str(setting).lower()
    if setting == "auto":
        return "bfloat16" if cuda_available() and torch.cuda.is_bf16_supported() else "float32"
    if setting not in DTYPE_NAMES:
        raise ConfigError(f"train.dtype: {setting!r} is not one of auto, {', '.join(sorted(DTYPE_NAMES))}")
    if DTYPE_NAMES[setting] == "float16" and not cuda_available():
        raise ConfigError("train.dtype fp16 (--fp16) needs a CUDA GPU: fp16 mixed precision does not run on CPU")
    return DTYPE_NAMES[setting]


def resolve_load_in_4bit(setting: str) -> bool:
    """`auto` = QLoRA where bitsandbytes runs it properly (CUDA); on CPU one clear line says it is off."""
    setting = str(setting).lower()
    if setting in ("true", "yes", "on", "1"):
        return True
    if setting in ("false", "no", "off", "0"):
        return False
    if setting != "auto":
        raise ConfigError(f"train.load_in_4bit: {setting!r} is not one of auto, true, false")
    if cuda_available():
        return True
    log.info("4-bit loading (QLoRA) is off: no CUDA GPU here (train.load_in_4bit: auto), training on a full-precision base")
    return False


def flash_attention_available() -> bool:
    import importlib.util

    return cuda_available() and importlib.util.find_spec("flash_attn") is not None


def resolve_padding(setting: str) -> str:
    """Padding-free batches only pay off with FlashAttention's variable-length kernels: with SDPA (CPU, or a GPU
    without flash-attn) the flattened batch becomes one long sequence with a dense block-diagonal mask, so attention
    costs grow with the square of the *batch* length (measured slower here). Elsewhere: length-grouped batches padded
    to their longest row."""
    setting = str(setting).lower()
    if setting not in ("auto", "free", "longest"):
        raise ConfigError(f"train.padding: {setting!r} is not one of auto, free, longest")
    if setting == "auto":
        return "free" if flash_attention_available() else "longest"
    if setting == "free" and not flash_attention_available():
        log.warning("train.padding free without FlashAttention: correct (block-diagonal mask) but slower than 'longest'")
    return setting


def resolve_optim(setting: str, load_in_4bit: bool) -> str:
    """`auto` = 8-bit paged AdamW (seeds 001/002) where bitsandbytes runs it: CUDA with the QLoRA base; elsewhere
    plain AdamW, said once in the log. Any other value is a transformers optimizer name, used as given."""
    if setting != "auto":
        return setting
    if load_in_4bit and cuda_available():
        return "paged_adamw_8bit"
    log.info("train.optim auto: 8-bit AdamW needs bitsandbytes on CUDA; using plain AdamW (adamw_torch) here")
    return "adamw_torch"


def check_model_path(name_or_path: str) -> str:
    """`medtune.models.resolve_model_path` (pypi wheels, local dirs, path-like strings that must exist) plus what a
    causal-LM base needs: a config.json, and a network for a hub id. Fail here, before libraries retry the hub."""
    from medtune.models import resolve_model_path

    resolved = resolve_model_path(name_or_path)
    if Path(resolved).is_dir():
        if not (Path(resolved) / "config.json").exists():
            raise ConfigError(f"{resolved}: not a model directory (no config.json)")
        return resolved
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise ConfigError(f"base model {name_or_path!r} is a hub id but HF_HUB_OFFLINE=1: download it first or point models.* at a local copy")
    return resolved


def load_tokenizer(name_or_path: str):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(check_model_path(name_or_path))
    if tokenizer.chat_template is None:
        raise ConfigError(f"{name_or_path}: the tokenizer has no chat template (the SFT tasks are chat-formatted)")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_causal_lm(name_or_path: str, dtype: str, load_in_4bit: bool, padding: str = "longest"):
    from transformers import AutoModelForCausalLM
    from trl import ModelConfig
    from trl.trainer.utils import get_quantization_config

    kwargs: dict = {"dtype": dtype}
    if padding == "free" and flash_attention_available():
        kwargs["attn_implementation"] = "flash_attention_2"
    if load_in_4bit:
        # NF4 + double quantization, compute in the training dtype (the QLoRA recipe).
        model_args = ModelConfig(load_in_4bit=True, dtype=dtype, bnb_4bit_quant_type="nf4", use_bnb_nested_quant=True)
        kwargs["quantization_config"] = get_quantization_config(model_args)
        kwargs["device_map"] = {"": 0} if cuda_available() else {"": "cpu"}
    return AutoModelForCausalLM.from_pretrained(check_model_path(name_or_path), **kwargs)


def lora_config(lora: LoraSettings):
    """`all-linear` (every linear layer but the output head), `auto` (peft's per-architecture mapping) or a list."""
    from peft import LoraConfig

    spec = lora.target_modules.strip()
    if spec == "all-linear":
        targets = "all-linear"
    elif spec == "auto":
        targets = None
    else:
        targets = [name.strip() for name in spec.split(",") if name.strip()]
        if not targets:
            raise ConfigError(f"lora.target_modules: {lora.target_modules!r} names no module")
    extra = [name.strip() for name in lora.modules_to_save.split(",") if name.strip()] or None
    return LoraConfig(
        task_type="CAUSAL_LM", r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=targets, bias="none",
        # A base with tied embeddings stays tied: the trained lm_head copy is also the input embedding, as in the base
        # (peft warns otherwise, peft issue #2777); reload and merge equality are tested in test_qa_modules_to_save.
        modules_to_save=extra, ensure_weight_tying=extra is not None,
    )
