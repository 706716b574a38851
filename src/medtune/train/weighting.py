"""Answer-token loss weights (`train.decision_weight`): the loss on the tokens of an answer that carry its decision
is multiplied by a weight, the rest of the completion (copied text, JSON scaffolding) keeps weight 1.

Why: the sample cot adapter fitted the answer template (token accuracy 0.993 on its own training rows) but not the
mention decision that follows the restated criterion (its first 4 tokens right on 0.717 of the training rows,
teacher-forced; README, "Decision-weighted loss"). Those tokens are ~7% of the answer, so early in training the
template's gradient drowns theirs. TRL's `SFTTrainer` has no per-token weights (its `loss_type` is nll or dft), so
this module supplies them: a `loss_weights` column aligned with TRL's own tokenization, a collator that pads it as
TRL pads labels, and a thin stand-in for the model that scales TRL's per-token log-probabilities, so TRL computes the
loss and its metrics itself (TRL's `compute_loss_func` hook is deprecated and costs an extra forward pass). With the
default weight 1 none of this is used and training is TRL's, unchanged.

Measured on the sample cot (stop 30): weight 5 did not move it (test accuracy 0.514 with the shared early stopping,
0.505 without, against 0.559; its own training rows' decision tokens 0.683 / 0.728 against 0.717). The default stays 1.

Which characters carry the decision is the task's to say (`ChatExample.weighted_spans`; cot: `prompts.cot_decision_spans`).
"""

from __future__ import annotations

import math

from medtune.config import ConfigError
from medtune.train.tasks import chat_ids

COLUMN = "loss_weights"


def validate_decision_weight(weight: float) -> None:
    if not (isinstance(weight, (int, float)) and math.isfinite(weight) and weight > 0):
        raise ConfigError(f"train.decision_weight must be a finite number > 0 (1 = TRL's unweighted loss), got {weight!r}")


def token_weights(tokenizer, prompt: list[dict], completion: list[dict], spans, weight: float) -> list[float]:
    """One weight per token of TRL's tokenization of prompt + completion (`apply_chat_template` of both): `weight` on
    a completion token that overlaps a span of the (single) completion message, 1 elsewhere (prompt tokens are
    masked out of the loss by TRL anyway). Raises when the chat template's text does not re-tokenize to the same ids,
    since the spans could then not be placed."""
    ids = chat_ids(tokenizer, prompt + completion)
    if not spans or weight == 1:
        return [1.0] * len(ids)
    if len(completion) != 1:
        raise ValueError("weighted spans need a single completion message")
    text = tokenizer.apply_chat_template(prompt + completion, tokenize=False)
    content = completion[0]["content"]
    offset = text.rfind(content)
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    if offset < 0 or list(encoded["input_ids"]) != ids:
        raise ValueError("the chat template's text does not re-tokenize to its token ids; cannot place weighted spans")
    chars = [(offset + s, offset + e) for s, e in spans]
    return [weight if any(a < end and b > start for start, end in chars) else 1.0 for a, b in encoded["offset_mapping"]]


class WeightedCollator:
    """Wraps TRL's collator: takes the `loss_weights` column off the examples, lets TRL build the batch, then adds
    the weights laid out as TRL lays out `labels` (right-padded; one flattened row when padding-free)."""

    def __init__(self, base):
        self.base = base

    def __call__(self, examples: list[dict]) -> dict:
        import torch
        from trl.trainer.utils import pad  # what TRL's collator pads labels with

        weights = [torch.tensor(example.pop(COLUMN), dtype=torch.float32) for example in examples]
        batch = self.base(examples)
        if getattr(self.base, "padding_free", False):  # one flattened sequence
            weights = [torch.cat(weights)]
        batch[COLUMN] = pad(weights, padding_value=0.0, padding_side="right", pad_to_multiple_of=self.base.pad_to_multiple_of)
        return batch


class WeightedLogProbs:
    """Stands in for the model in one `SFTTrainer.compute_loss` call: TRL's fused LM head returns per-token
    log-probabilities (`log_probs`, aligned with the labels shifted by one, zero where a label is -100) and TRL's loss is
    `-log_probs.sum() / number of target tokens`; scaling them by the weights makes that loss the weighted one, while
    TRL's token accuracy and entropy (computed from the other outputs) stay as they are. Any other forward (the
    logits TRL recomputes when asked for outputs) passes through unchanged."""

    def __init__(self, model, weights):
        self.model, self.weights = model, weights

    def __call__(self, *args, **kwargs):
        outputs = self.model(*args, **kwargs)
        if kwargs.get("fused_lm_head"):
            outputs.log_probs = outputs.log_probs * self.weights[:, 1:].to(outputs.log_probs.dtype)
        return outputs

    def __getattr__(self, name):
        return getattr(self.model, name)
