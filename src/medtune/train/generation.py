"""Batched greedy generation for the chat tasks, and the CoT verdict check built on it.

`generate_replies` is the transformers counterpart of a vLLM/OpenAI chat call: the same chat template, the
model's own end-of-turn token as the stop token, greedy decoding. Prompts are fitted to `max_seq_len` exactly as
training fitted them (cut in the patient text), then left-padded so every row continues from its last real token.
"""

from __future__ import annotations

from typing import Sequence

from medtune import prompts
from medtune.train.tasks import ChatExample, _patient_span, chat_ids, fit_to_length


def prompt_ids(tokenizer, messages: list[dict], max_seq_len: int) -> list[int]:
    """Token ids of a generation prompt, shortened in the patient text to leave room in `max_seq_len`."""
    fitted, reason = fit_to_length(ChatExample(list(messages), [], _patient_span(list(messages))), tokenizer, max_seq_len)
    if fitted is None:
        raise ValueError(f"prompt cannot fit in {max_seq_len} tokens ({reason})")
    return chat_ids(tokenizer, fitted.prompt, add_generation_prompt=True)


def generate_replies(
    model, tokenizer, conversations: Sequence[list[dict]], max_new_tokens: int = 160, max_seq_len: int = 384, batch_size: int = 16
) -> list[str]:
    """Greedy replies (special tokens stripped) to each prompt conversation; generation stops at the tokenizer's
    EOS (the chat template's end-of-turn token) or after `max_new_tokens`."""
    import torch

    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    replies: list[str] = []
    try:
        with torch.inference_mode():
            for start in range(0, len(conversations), batch_size):
                batch = [prompt_ids(tokenizer, c, max_seq_len - max_new_tokens) for c in conversations[start : start + batch_size]]
                width = max(map(len, batch))
                input_ids = torch.tensor([[pad_id] * (width - len(ids)) + ids for ids in batch], device=device)
                mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in batch], device=device)
                output = model.generate(
                    input_ids=input_ids, attention_mask=mask, max_new_tokens=max_new_tokens, do_sample=False,
                    eos_token_id=tokenizer.eos_token_id, pad_token_id=pad_id,
                )
                replies += tokenizer.batch_decode(output[:, width:], skip_special_tokens=True)
    finally:
        model.train(was_training)
    return replies


def cot_verdicts(model, tokenizer, rows: Sequence[dict], max_new_tokens: int = 160, max_seq_len: int = 384, batch_size: int = 16) -> dict:
    """Greedy CoT answers for canonical cot rows (`messages` with the answer last): parse rate and verdict accuracy
    (an unparsable answer counts as wrong) next to the majority verdict's accuracy on the same rows."""
    if not rows:
        raise ValueError("no rows to generate for")
    replies = generate_replies(model, tokenizer, [r["messages"][:-1] for r in rows], max_new_tokens, max_seq_len, batch_size)
    predicted = [prompts.parse_cot_verdict(reply) for reply in replies]
    gold = [prompts.parse_cot_verdict(r["messages"][-1]["content"]) for r in rows]
    majority = max(set(gold), key=gold.count)
    return {
        "parse_rate": round(sum(p is not None for p in predicted) / len(rows), 4),
        "verdict_accuracy": round(sum(p == g for p, g in zip(predicted, gold)) / len(rows), 4),
        "majority_verdict_accuracy": round(gold.count(majority) / len(rows), 4),
        "rows": len(rows),
        "predicted": predicted,
        "gold": gold,
        "replies": replies,
    }
