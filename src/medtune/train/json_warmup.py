"""Label-free warm-up documents for the tiny stand-in base: JSON fluency and in-context copying.

JSON documents.
The real bases (gemma-4-E4B-it, phi-4) write JSON fluently; the tiny Llama of the offline profile is pretrained on
clinical prose only, so the punctuation and key pieces of a seed-001 answer (`{"`, `":`, `_`, `null`, `[]` …) are
tokens it never saw: their (tied) embeddings stay near random, and a LoRA adapter — which cannot touch embeddings —
learned almost nothing in a first try (val token accuracy 0.35 after 2 epochs). These documents put the schema's
field names and JSON syntax into the tokenizer and the pretraining corpus. Every *value* is a random span of the
unlabeled training text, a random enum member or a coin flip, so no document says which endpoint a text describes:
the base learns how such JSON looks, the adapter still has to learn what goes in it.
"""

from __future__ import annotations

import json
import random
import re
from functools import lru_cache

from medtune import prompts
from medtune.data.formats import ENDPOINT_JSON_SCHEMA

_WORDS = re.compile(r"[A-Za-z0-9][\w%/.-]*")


@lru_cache(maxsize=1)
def endpoint_fields() -> dict[str, dict]:
    """field name -> JSON-Schema property of one endpoint, in schema order."""
    schema = json.loads(ENDPOINT_JSON_SCHEMA.read_text())
    return schema["properties"]["endpoints"]["items"]["properties"]


def _span(rng: random.Random, texts: list[str]) -> str:
    words = _WORDS.findall(rng.choice(texts))
    if not words:
        return "n/a"
    length = rng.randint(1, min(5, len(words)))
    start = rng.randrange(len(words) - length + 1)
    return " ".join(words[start : start + length]).rstrip(".")


def _value(rng: random.Random, spec: dict, texts: list[str]):
    if "enum" in spec:
        return rng.choice(spec["enum"])
    kind = spec.get("type")
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "array":
        return [_span(rng, texts) for _ in range(rng.choice((0, 0, 2, 3)))]
    return None if rng.random() < 0.4 else _span(rng, texts)


def json_warmup_documents(texts: list[str], n: int, seed: int) -> list[str]:
    """`n` compact JSON documents shaped like seed 001's output (1–2 endpoints), values drawn label-free."""
    if n <= 0 or not texts:
        return []
    rng = random.Random(f"{seed}:json-warmup")
    fields = endpoint_fields()
    documents = []
    for _ in range(n):
        endpoints = [{name: _value(rng, spec, texts) for name, spec in fields.items()} for _ in range(rng.choice((1, 1, 1, 2)))]
        documents.append(prompts.endpoint_answer({"endpoints": endpoints}))
    return documents


def copy_warmup_documents(texts: list[str], n: int, seed: int) -> list[str]:
    """`n` documents that can only be predicted by copying from earlier in the document: a list of random corpus
    words, then the same words again ("Repeat:") or only the capitalized ones as "- word" lines ("Capitalized:").

    Measured on the tiny base without them: a repeated random token sequence is no easier the second time (no
    induction heads), and neither LoRA nor full fine-tuning on the extraction tasks learned to look at the input
    (constant answers). An instruction-tuned base copies from its context; these documents give the stand-in that
    skill. The word lists are random, so they carry no label of any task."""
    if n <= 0 or not texts:
        return []
    rng = random.Random(f"{seed}:copy-warmup")
    words = sorted({w for t in texts for w in _WORDS.findall(t) if w.isalpha() and len(w) > 2})
    documents = []
    for _ in range(n):
        chosen = [rng.choice(words).lower() for _ in range(rng.randint(3, 12))]
        if rng.random() < 0.5:
            documents.append(f"Words: {' '.join(chosen)}\nRepeat: {' '.join(chosen)}")
        else:
            chosen = [w.capitalize() if rng.random() < 0.35 else w for w in chosen]
            if not any(w[0].isupper() for w in chosen):
                i = rng.randrange(len(chosen))
                chosen[i] = chosen[i].capitalize()
            picked = list(dict.fromkeys(w for w in chosen if w[0].isupper()))
            documents.append(f"Words: {' '.join(chosen)}\nCapitalized:\n" + "\n".join(f"- {w}" for w in picked))
    return documents


def warmup_documents(texts: list[str], json_docs: int, copy_docs: int, seed: int) -> list[str]:
    return json_warmup_documents(texts, json_docs, seed) + copy_warmup_documents(texts, copy_docs, seed)
