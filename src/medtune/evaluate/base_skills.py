"""Skill probes of a causal-LM base: in-context copying and matching, before any adapter.

The sample profile's adapters can only be as good as the tiny base's ability to look back at its input (README, "The
tiny base"). Two label-free probes measure that directly:
- copying: "Text: X\\nRepeat:" with X a held-out sequence of 3-12 corpus words in random order (no sentence to
  recall), greedy decoding; counts exact copies of the first output line;
- matching: build-base's probe documents made from *val* texts (never pretrained on); for each "term: Yes|No" line
  the base picks the answer whose continuation (" Yes" / " No") has the higher log-probability. Scoring whole
  continuations makes the number independent of how the tokenizer splits "Yes". Reported for all lines, for the
  literal-word lines, and (separate documents) for concepts asked inside a corpus sentence, the step the reranker
  needs (find the term in the criterion, then look it up).

    python -m medtune.evaluate.base_skills models/base/tiny-lm          # prints JSON
"""

from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path

_PLAIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9-]*")


def copy_sequences(words: list[str], n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(words) for _ in range(rng.randint(3, 12))) for _ in range(n)]


def continuation_logprob(model, tokenizer, prefix: str, continuation: str) -> float:
    """Sum of the log-probabilities of `continuation`'s tokens after BOS + `prefix`. The prefix must tokenize the
    same alone and inside prefix + continuation (true at a ':' before a space), else the score would be wrong."""
    import torch

    head = tokenizer(tokenizer.bos_token + prefix, add_special_tokens=False)["input_ids"]
    full = tokenizer(tokenizer.bos_token + prefix + continuation, add_special_tokens=False)["input_ids"]
    if full[: len(head)] != head:
        raise ValueError(f"prefix {prefix[-30:]!r} tokenizes differently before {continuation!r}")
    with torch.inference_mode():
        logprobs = model(torch.tensor([full])).logits[0].log_softmax(-1)
    return float(sum(logprobs[i - 1, full[i]] for i in range(len(head), len(full))))


def base_skills(model_dir: str | Path, split_dir: str | Path = "data/split", copies: int = 40, probe_documents_n: int = 150, seed: int = 1) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from medtune.io import read_jsonl
    from medtune.train.base_lm import corpus_texts, lexicon_concepts, probe_documents, row_texts

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    split_dir = Path(split_dir)
    words = sorted({w for text in corpus_texts(split_dir) for w in text.split() if _PLAIN_WORD.fullmatch(w)})
    exact = 0
    with torch.inference_mode():
        for sequence in copy_sequences(words, copies, seed):
            ids = tokenizer(tokenizer.bos_token + f"Text: {sequence}\nRepeat:", return_tensors="pt", add_special_tokens=False).input_ids
            out = model.generate(ids, max_new_tokens=48, do_sample=False, pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
            exact += tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True).split("\n")[0].strip() == sequence
    val_texts = [t for path in sorted(split_dir.glob("*/val.jsonl")) for row in read_jsonl(path) for t in row_texts(row)]
    lexicon_terms = {s.lower() for concept in lexicon_concepts() for s in concept}
    right = total = literal_right = literal_total = phrase_right = phrase_total = 0
    for term, answer, guess in _probe_guesses(model, tokenizer, probe_documents(val_texts, probe_documents_n, seed=99)):
        right += guess == answer
        total += 1
        if term.lower() not in lexicon_terms:
            literal_right += guess == answer
            literal_total += 1
    # concepts asked inside a sentence ("No current use of dapagliflozin: No"); literal-word lines are one word
    phrase_documents = probe_documents(val_texts, probe_documents_n, seed=100, phrase_share=1.0)
    for term, answer, guess in _probe_guesses(model, tokenizer, phrase_documents, keep=lambda t: " " in t and t.lower() not in lexicon_terms):
        phrase_right += guess == answer
        phrase_total += 1
    return {"model": str(model_dir), "exact_copies": exact, "copy_sequences": copies, "probe_accuracy": round(right / total, 3),
            "probe_lines": total, "literal_probe_accuracy": round(literal_right / max(1, literal_total), 3), "literal_probe_lines": literal_total,
            "phrase_probe_accuracy": round(phrase_right / max(1, phrase_total), 3), "phrase_probe_lines": phrase_total}


def _probe_guesses(model, tokenizer, documents: list[str], keep=lambda term: True):
    """(term, answer, the base's guess) for each "term: Yes|No" line of the probe documents that `keep` accepts."""
    for document in documents:
        head, lines = document.split("\nMentioned?\n")
        for line in lines.split("\n"):
            term, answer = line.rsplit(": ", 1)
            if keep(term):
                prefix = f"{head}\nMentioned?\n{term}:"
                yes, no = (continuation_logprob(model, tokenizer, prefix, word) for word in (" Yes", " No"))
                yield term, answer, "Yes" if yes > no else "No"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m medtune.evaluate.base_skills", description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir", help="a causal-LM directory (save_pretrained), e.g. models/base/tiny-lm")
    parser.add_argument("--split-dir", default="data/split", help="train texts give the copy words, val texts the probes (default: data/split)")
    parser.add_argument("--copies", type=int, default=40, help="held-out sequences to copy (default 40)")
    parser.add_argument("--probe-documents", type=int, default=150, help="probe documents of 8 lines each (default 150)")
    args = parser.parse_args(argv)
    print(json.dumps(base_skills(args.model_dir, args.split_dir, args.copies, args.probe_documents)))


if __name__ == "__main__":
    main()
