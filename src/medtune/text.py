"""Text normalisation and the normalised hash used for dedupe and leakage checks."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_SPACE = re.compile(r"\s+")
_TRAILING_PUNCT = re.compile(r"[\s.,;:!?]+$")


def normalize(text: str) -> str:
    """NFKC, casefold, collapse whitespace: the identity used by dedupe and the split leakage check."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return _SPACE.sub(" ", text.casefold()).strip()


def normalize_surface(text: str) -> str:
    """`normalize` plus trailing punctuation stripped: how extracted entity surfaces are compared."""
    return _TRAILING_PUNCT.sub("", normalize(text))


def stable_hash(*parts: str) -> int:
    """64-bit blake2b over the parts (unit-separated); stable across processes, unlike `hash()`."""
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def normalized_hash(*parts: str) -> int:
    return stable_hash(*(normalize(p) for p in parts))


def hex_id(value: int) -> str:
    return f"{value:016x}"
