"""Canonical NER rows (the `clean` stage's output) <-> GLiNER2's own training records.

Canonical row: `{"text", "entities": [{"start", "end", "label", "text"}], "relations": [{"label", "head",
"tail"}], "structures": [{name: {field: value}}], "descriptions": {label: description}}`.
GLiNER2 record: `{"input": text, "output": {"entities": {label: [{"text", "start", "end"}]},
"entity_descriptions", "relations": [{name: {"head", "tail"}}], "json_structures", "json_descriptions"}}`.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from medtune.io import InputError, iter_jsonl_lines
from medtune.ner.schema import EntitySchema


def row_problem(row: object) -> str | None:
    """Why `row` is not a usable canonical NER row (None when it is)."""
    if not isinstance(row, dict):
        return "expected a JSON object"
    text = row.get("text")
    if not isinstance(text, str) or not text.strip():
        return "missing or empty 'text'"
    entities = row.get("entities", [])
    if not isinstance(entities, list):
        return "'entities' must be a list of {start, end, label, text} spans"
    for entity in entities:
        if not isinstance(entity, dict) or not {"start", "end", "label"} <= set(entity):
            return f"entity {entity!r}: expected {{start, end, label, text}}"
        start, end = entity["start"], entity["end"]
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
            return f"entity {entity!r}: span outside the text (length {len(text)})"
        if "text" in entity and text[start:end] != entity["text"]:
            return f"entity {entity!r}: text[{start}:{end}] is {text[start:end]!r}"
        if not isinstance(entity["label"], str) or not entity["label"]:
            return f"entity {entity!r}: empty label"
    for relation in row.get("relations") or []:
        if not isinstance(relation, dict) or not all(isinstance(relation.get(k), str) for k in ("label", "head", "tail")):
            return f"relation {relation!r}: expected {{label, head, tail}}"
        for end in ("head", "tail"):
            if relation[end] not in text:
                return f"relation {relation['label']!r}: {end} {relation[end]!r} does not occur in the text"
    return None


def read_ner_rows(path: Path | str, schema: EntitySchema | None = None) -> list[dict]:
    """NER rows from a JSONL file: canonical rows (the split stage's output) as they are, and any of the
    five seed-000 raw formats through `clean`'s own parser (`data.formats.parse_ner`; labels checked
    against `schema` when given). A bad row is an error naming the file and line."""
    from medtune.data.formats import RowError, parse_ner

    allowed = {label.casefold(): label for label in schema.entities} if schema else None
    rows = []
    for number, line in iter_jsonl_lines(path):
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise InputError(f"{path}:{number}: invalid JSON ({exc})") from exc
        if isinstance(row, dict) and not isinstance(row.get("entities"), list):
            try:
                row = parse_ner(row, allowed).row
            except RowError as exc:
                raise InputError(f"{path}:{number}: {exc}") from exc
        problem = row_problem(row)
        if problem:
            raise InputError(f"{path}:{number}: {problem}")
        rows.append(row)
    if not rows:
        raise InputError(f"{path}: no NER rows")
    return rows


def to_gliner_record(row: dict, schema: EntitySchema, ask_all_labels: bool = True) -> dict:
    """One canonical row as a GLiNER2 training record.

    Descriptions: the row's own win, the schema back-fills the rest (seed 000 `--schema-path`).
    With `ask_all_labels`, every schema label is asked in every example and the absent ones are trained
    as negatives (empty mention lists): inference always asks for all labels, so the model must learn
    to return nothing for a type that is not there. Mentions keep their char offsets, so a surface that
    occurs twice is labelled where it was annotated, not everywhere."""
    labels = list(schema.entities) if ask_all_labels else []
    entities: dict[str, list[dict]] = {label: [] for label in labels}
    for entity in row.get("entities", []):
        text = row["text"][entity["start"]:entity["end"]]
        entities.setdefault(entity["label"], []).append({"text": text, "start": entity["start"], "end": entity["end"]})
    output: dict = {}
    if entities:
        output["entities"] = entities
        own = row.get("descriptions") or {}
        descriptions = {label: own.get(label) or schema.entities.get(label, "") for label in entities}
        descriptions = {label: text for label, text in descriptions.items() if text}
        if descriptions:
            output["entity_descriptions"] = descriptions
    if row.get("relations"):
        output["relations"] = [{r["label"]: {"head": r["head"], "tail": r["tail"]}} for r in row["relations"]]
    if row.get("structures"):
        output["json_structures"] = row["structures"]
        if row.get("structure_descriptions"):
            output["json_descriptions"] = row["structure_descriptions"]
    return {"input": row["text"], "output": output}


def to_gliner_records(rows: list[dict], schema: EntitySchema, ask_all_labels: bool = True, where: str = "rows") -> list[dict]:
    """Convert and validate with GLiNER2's own `InputExample.validate` (its trainer would otherwise drop
    a bad record with a printed warning and train on the rest: we fail instead, naming the row)."""
    from gliner2.training.data import InputExample

    records = []
    for index, row in enumerate(rows):
        record = to_gliner_record(row, schema, ask_all_labels)
        errors = InputExample.from_dict(record).validate()
        if errors:
            raise InputError(f"{where}: row {index + 1} (id {row.get('id', '?')}): {'; '.join(errors[:3])}")
        records.append(record)
    return records
