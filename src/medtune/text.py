"""Text normalisation and the normalised hash used for dedupe and leakage checks."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from hashlib import blake2b

_TRAILING_PUNCT = re.compile(r"[\s.,;:!?]+$")


def normalize(text: str) -> str:
    """NFKC, casefold, collapse whitespace: the identity used by dedupe and the split leakage check."""
    if not text.isascii():  # NFKC is the identity on ASCII; skipping it halves the clean hot path
        text = unicodedata.normalize("NFKC", text)
    # str.split() collapses every run of Unicode whitespace and strips the ends (faster than a regex)
    return " ".join(text.casefold().split())


def normalize_surface(text: str) -> str:
    """`normalize` plus trailing punctuation stripped: how extracted entity surfaces are compared."""
    return _TRAILING_PUNCT.sub("", normalize(text))


def stable_hash(*parts: str) -> int:
    """64-bit blake2b over the parts (unit-separated); stable across processes, unlike `hash()`."""
    return int.from_bytes(blake2b("\x1f".join(parts).encode("utf-8"), digest_size=8).digest(), "big")


@lru_cache(maxsize=4096)
def label_hash(label_key: str) -> int:
    """`stable_hash` of a label; cached because most tasks have a handful of distinct labels."""
    return stable_hash(label_key)


def normalized_hash(*parts: str) -> int:
    return int.from_bytes(blake2b("\x1f".join(map(normalize, parts)).encode("utf-8"), digest_size=8).digest(), "big")


def hex_id(value: int) -> str:
    return f"{value:016x}"
