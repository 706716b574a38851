"""The entity schema file (`configs/entity_schema.yaml`): label -> description, relation -> description.

Descriptions are part of GLiNER2's prompt: training examples get them back-filled (seed 000 `--schema-path`)
and inference asks for the same labels with the same descriptions, so a label means the same at both ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from medtune.io import InputError


@dataclass(frozen=True)
class EntitySchema:
    entities: dict[str, str] = field(default_factory=dict)  # label -> description ("" when unknown)
    relations: dict[str, str] = field(default_factory=dict)  # relation -> description

    @property
    def labels(self) -> list[str]:
        return list(self.entities)


def load_schema(path: Path | str) -> EntitySchema:
    """Read `entities:` (required, non-empty) and `relations:` (optional) mappings; errors name the file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise InputError(f"{path}: cannot read entity schema ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: invalid YAML ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("entities"), dict) or not data["entities"]:
        raise InputError(f"{path}: expected a non-empty 'entities:' mapping of label -> description")
    relations = data.get("relations") or {}
    if not isinstance(relations, dict):
        raise InputError(f"{path}: 'relations:' must be a mapping of relation -> description")
    for kind, mapping in (("entities", data["entities"]), ("relations", relations)):
        for key, value in mapping.items():
            if not isinstance(key, str) or not key.strip() or not isinstance(value, (str, type(None))):
                raise InputError(f"{path}: {kind}: {key!r} must map a non-empty name to a description string")
    return EntitySchema(
        entities={k: (v or "") for k, v in data["entities"].items()},
        relations={k: (v or "") for k, v in relations.items()},
    )


def schema_from_rows(rows: list[dict]) -> EntitySchema:
    """Labels seen in canonical rows (with any descriptions they carry), when no schema file is given."""
    entities: dict[str, str] = {}
    relations: dict[str, str] = {}
    for row in rows:
        for entity in row.get("entities", []):
            entities.setdefault(entity["label"], "")
        for label, description in (row.get("descriptions") or {}).items():
            if description and not entities.get(label):
                entities[label] = description
        for relation in row.get("relations", []):
            relations.setdefault(relation["label"], "")
    return EntitySchema(entities=entities, relations=relations)
