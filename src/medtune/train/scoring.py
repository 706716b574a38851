"""Reranker scoring: P(Yes) from the next-token logits restricted to the Yes/No answer tokens.

`yes_no_token_ids` is the one place that decides which token ids mean Yes and No; it derives them from the chat
template exactly as training tokenizes the answer, so transformers, merged models and vLLM (which loads the same
tokenizer files) all read the same two logits.
"""

from __future__ import annotations

from typing import Sequence

from medtune import prompts
from medtune.train.tasks import chat_ids, fit_to_length, reranker_example


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def yes_no_token_ids(tokenizer) -> tuple[int, int]:
    """(id of the first answer token for "Yes", for "No"), as they follow the generation prompt in training."""
    probe = prompts.reranker_messages("patient", "criterion")
    prompt_ids = chat_ids(tokenizer, probe, add_generation_prompt=True)
    ids = []
    for label in prompts.RERANKER_LABELS:
        full = chat_ids(tokenizer, probe + [{"role": "assistant", "content": label}])
        n = _common_prefix(prompt_ids, full)
        if n != len(prompt_ids) or n == len(full):
            raise ValueError(
                f"chat template of {getattr(tokenizer, 'name_or_path', 'tokenizer')!r}: the generation prompt is not a "
                "prefix of the rendered answer, so the answer token cannot be located"
            )
        ids.append(full[n])
    if ids[0] == ids[1]:
        raise ValueError(f"'Yes' and 'No' start with the same token id {ids[0]}; P(Yes) would be meaningless")
    return ids[0], ids[1]


def reranker_prompt_ids(tokenizer, patient_text: str, criterion: str, max_seq_len: int) -> list[int]:
    """Token ids of the scoring prompt, fitted to `max_seq_len` exactly as the training row with an answer was."""
    example = reranker_example({"patient_text": patient_text, "criterion": criterion, "label": "Yes"})
    fitted, reason = fit_to_length(example, tokenizer, max_seq_len)
    if fitted is None:
        raise ValueError(f"reranker prompt cannot fit in {max_seq_len} tokens ({reason}): criterion {criterion[:60]!r}")
    return chat_ids(tokenizer, fitted.prompt, add_generation_prompt=True)


def yes_probabilities(model, tokenizer, pairs: Sequence[tuple[str, str]], max_seq_len: int, batch_size: int = 16) -> list[float]:
    """P(Yes) for each (patient_text, criterion) pair with a transformers (or peft-wrapped) causal LM."""
    import torch

    yes_id, no_id = yes_no_token_ids(tokenizer)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    scores: list[float] = []
    try:
        with torch.inference_mode():
            for start in range(0, len(pairs), batch_size):
                batch = [reranker_prompt_ids(tokenizer, p, c, max_seq_len) for p, c in pairs[start : start + batch_size]]
                width = max(map(len, batch))
                # Right padding: the causal mask keeps each row's last real token blind to the padding after it.
                input_ids = torch.tensor([ids + [pad_id] * (width - len(ids)) for ids in batch], device=device)
                mask = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids in batch], device=device)
                logits = model(input_ids=input_ids, attention_mask=mask).logits
                last = torch.tensor([len(ids) - 1 for ids in batch], device=device)
                pair_logits = logits[torch.arange(len(batch), device=device), last][:, [yes_id, no_id]].float()
                scores += torch.softmax(pair_logits, dim=-1)[:, 0].tolist()
    finally:
        model.train(was_training)
    return scores


def reranker_accuracy(model, tokenizer, rows: Sequence[dict], max_seq_len: int) -> dict:
    """Accuracy at P(Yes) >= 0.5 next to the majority-class accuracy of the same rows."""
    if not rows:
        raise ValueError("no rows to score")
    scores = yes_probabilities(model, tokenizer, [(r["patient_text"], r["criterion"]) for r in rows], max_seq_len)
    gold = [r["label"] == "Yes" for r in rows]
    correct = sum((s >= 0.5) == g for s, g in zip(scores, gold))
    yes_share = sum(gold) / len(gold)
    return {
        "accuracy": round(correct / len(rows), 4),
        "majority_accuracy": round(max(yes_share, 1 - yes_share), 4),
        "rows": len(rows),
    }
