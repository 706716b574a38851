"""Loading a fine-tuned model for serving (`medtune chat`) and the decoding settings it shares with evaluation.

Batched greedy generation for evaluation is `medtune.evaluate.generation.generate`; serving decodes one
conversation at a time (streamed in a terminal), so it calls `model.generate` itself with the helpers below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from medtune.config import ConfigError
from medtune.train import models as model_utils

Message = dict[str, str]
# A model config without max_position_embeddings and a tokenizer without a real limit: assume this much context.
FALLBACK_CONTEXT = 2048


def load_for_chat(adapter: str | None = None, model: str | None = None, base_model: str | None = None, dtype: str = "auto"):
    """(model, tokenizer) in eval mode from a LoRA adapter (+ its recorded base, or `base_model`) or a merged / plain
    model folder. The adapter is merged in memory: the same outputs (FACTS.md: ~6e-7 logit difference), faster
    decoding. The tokenizer is the base's (or the model folder's), as in training."""
    from peft import PeftModel

    from medtune.evaluate.generation import adapter_base

    if bool(adapter) == bool(model):
        raise ConfigError("give exactly one of an adapter directory (--adapter) or a model directory (--model)")
    resolved = model_utils.resolve_dtype(dtype)
    if adapter:
        base = model_utils.check_model_path(base_model) if base_model else adapter_base(adapter)
        tokenizer = model_utils.load_tokenizer(base)
        loaded = PeftModel.from_pretrained(model_utils.load_causal_lm(base, resolved, load_in_4bit=False), adapter)
        loaded = loaded.merge_and_unload()
    else:
        tokenizer = model_utils.load_tokenizer(model)
        loaded = model_utils.load_causal_lm(model, resolved, load_in_4bit=False)
    if model_utils.cuda_available():
        loaded = loaded.to("cuda")
    loaded.eval()
    return loaded, tokenizer


def context_length(model, tokenizer) -> int:
    """Tokens the model attends over: its position limit, or the tokenizer's when that is a real number."""
    limit = getattr(model.config, "max_position_embeddings", None)
    if isinstance(limit, int) and limit > 0:
        return limit
    limit = getattr(tokenizer, "model_max_length", None)
    return limit if isinstance(limit, int) and 0 < limit < 10**7 else FALLBACK_CONTEXT


def stop_token_ids(model, tokenizer) -> list[int]:
    """End-of-turn ids: the tokenizer's EOS plus whatever the model's generation config names."""
    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids |= set(configured if isinstance(configured, (list, tuple)) else [configured] if configured is not None else [])
    return sorted(ids)


def prompt_ids(tokenizer, messages: Sequence[Message]) -> list[int]:
    from medtune.train.tasks import chat_ids

    return chat_ids(tokenizer, list(messages), add_generation_prompt=True)


def sampling_kwargs(temperature: float) -> dict:
    """Greedy at temperature 0 (as evaluation decodes), else multinomial sampling at that temperature."""
    if temperature < 0:
        raise ConfigError(f"temperature must be >= 0, got {temperature}")
    return {"do_sample": False} if temperature == 0 else {"do_sample": True, "temperature": temperature, "top_p": 1.0}
