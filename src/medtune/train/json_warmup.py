"""Label-free JSON documents for the tiny stand-in base: JSON fluency without the extraction mapping.

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

