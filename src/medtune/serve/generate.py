"""Text generation for evaluation and serving: load a fine-tuned model, then batched greedy decoding.

`generate(model, tokenizer, messages_list, max_new_tokens)` is the one place that turns chat messages into answers
with transformers (chat template + generation prompt, left padding, greedy by default). Evaluation and the
non-interactive `medtune chat` call it; a vLLM backend can sit behind the same signature. Streaming (interactive
chat) lives in `serve.chat` because it decodes one conversation at a time.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

from medtune.config import ConfigError
from medtune.io import InputError
from medtune.train import models as model_utils

log = logging.getLogger(__name__)

Message = dict[str, str]
# A model config without max_position_embeddings and a tokenizer without a real limit: assume this much context.
FALLBACK_CONTEXT = 2048


def adapter_base(adapter_dir: Path | str) -> str:
    """The base model an adapter was trained on, as peft recorded it in adapter_config.json."""
    from peft import PeftConfig

    adapter_dir = Path(adapter_dir)
    if not (adapter_dir / "adapter_config.json").exists():
        raise InputError(f"{adapter_dir}: no adapter_config.json (train the adapter first, e.g. `dvc repro train-qa`)")
    return PeftConfig.from_pretrained(str(adapter_dir)).base_model_name_or_path


def load_for_inference(adapter: str | None = None, model: str | None = None, base_model: str | None = None,
                       dtype: str = "auto"):
    """(model, tokenizer) in eval mode from a LoRA adapter (+ its base, or `base_model`), a merged model folder or a
    plain base model. The adapter is merged in memory: identical outputs (FACTS.md: ~6e-7 logit difference), faster
    decoding. The tokenizer is the base's (or the merged folder's), as in training."""
    from peft import PeftModel

    if bool(adapter) == bool(model):
        raise ConfigError("give exactly one of an adapter directory (--adapter) or a model directory (--model)")
    resolved = model_utils.resolve_dtype(dtype)
    if adapter:
        base = base_model or adapter_base(adapter)
        tokenizer = model_utils.load_tokenizer(base)  # train_sft trains with the base's tokenizer (and saves a copy)
        loaded = model_utils.load_causal_lm(base, resolved, load_in_4bit=False)
        loaded = PeftModel.from_pretrained(loaded, adapter).merge_and_unload()
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
    """Greedy at temperature 0 (evaluation), else multinomial sampling at that temperature."""
    if temperature < 0:
        raise ConfigError(f"temperature must be >= 0, got {temperature}")
    return {"do_sample": False} if temperature == 0 else {"do_sample": True, "temperature": temperature, "top_p": 1.0}


def generate(model, tokenizer, messages_list: Sequence[Sequence[Message]], max_new_tokens: int, batch_size: int = 16,
             temperature: float = 0.0, description: str = "generate") -> list[str]:
    """One answer per conversation, in input order. Batches of similar prompt length, left-padded so every row's
    new tokens start at the same position; each answer is decoded without special tokens and stripped."""
    import torch

    from medtune.console import progress

    if max_new_tokens < 1 or batch_size < 1:
        raise ConfigError(f"max_new_tokens and batch_size must be >= 1, got {max_new_tokens} and {batch_size}")
    encoded = [prompt_ids(tokenizer, m) for m in messages_list]
    limit = context_length(model, tokenizer)
    for index, ids in enumerate(encoded):
        if len(ids) + max_new_tokens > limit:
            raise InputError(f"prompt {index} has {len(ids)} tokens: with max_new_tokens {max_new_tokens} it exceeds "
                             f"the model's context of {limit} tokens")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    device = next(model.parameters()).device
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))  # less padding per batch
    answers: list[str] = [""] * len(encoded)
    bar = progress(transient=True)
    with bar, torch.inference_mode():
        task = bar.add_task(description, total=len(encoded))
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            width = max(len(encoded[i]) for i in batch)
            input_ids = torch.tensor([[pad_id] * (width - len(encoded[i])) + encoded[i] for i in batch], device=device)
            mask = torch.tensor([[0] * (width - len(encoded[i])) + [1] * len(encoded[i]) for i in batch], device=device)
            output = model.generate(
                input_ids=input_ids, attention_mask=mask, max_new_tokens=max_new_tokens, pad_token_id=pad_id,
                eos_token_id=stop_token_ids(model, tokenizer), **sampling_kwargs(temperature),
            )
            for row, index in enumerate(batch):
                answers[index] = tokenizer.decode(output[row, width:], skip_special_tokens=True).strip()
            bar.advance(task, len(batch))
    return answers
