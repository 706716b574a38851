"""Run a GLiNER2 model (plain or PEFT-wrapped) over texts: entity mentions with offsets, and relations."""

from __future__ import annotations

from typing import Any, Sequence

from medtune.ner.schema import EntitySchema


def label_prompt(schema: EntitySchema) -> dict[str, str] | list[str]:
    """Labels with their descriptions when there are any (the same prompt training used)."""
    if any(schema.entities.values()):
        return {label: description or label for label, description in schema.entities.items()}
    return list(schema.entities)


def extract_entities(model: Any, texts: Sequence[str], schema: EntitySchema, threshold: float = 0.5, batch_size: int = 8) -> list[list[dict]]:
    """Per text, the mentions `[{"label", "start", "end", "text", "score"}]` sorted by position."""
    if not texts:
        return []
    results = model.batch_extract_entities(
        list(texts), label_prompt(schema), batch_size=batch_size, threshold=threshold, include_spans=True, include_confidence=True
    )
    documents = []
    for result in results:
        mentions = [
            {"label": label, "start": m["start"], "end": m["end"], "text": m["text"], "score": round(float(m["confidence"]), 4)}
            for label, found in result.get("entities", {}).items()
            for m in found
        ]
        documents.append(sorted(mentions, key=lambda m: (m["start"], m["end"], m["label"])))
    return documents


def extract_relations(model: Any, texts: Sequence[str], relations: Sequence[str], threshold: float = 0.5, batch_size: int = 8) -> list[list[dict]]:
    """Per text, the relations `[{"label", "head", "tail"}]` (surfaces)."""
    if not texts or not relations:
        return [[] for _ in texts]
    results = model.batch_extract_relations(list(texts), list(relations), batch_size=batch_size, threshold=threshold)
    documents = []
    for result in results:
        found = result.get("relation_extraction", {})
        documents.append([
            {"label": label, "head": _surface(pair, "head", 0), "tail": _surface(pair, "tail", 1)}
            for label, pairs in found.items()
            for pair in pairs
        ])
    return documents


def _surface(pair: Any, key: str, position: int) -> str:
    """GLiNER2 returns (head, tail) tuples, or dicts with text when spans/confidence are requested."""
    value = pair[key] if isinstance(pair, dict) else pair[position]
    return value["text"] if isinstance(value, dict) else str(value)
