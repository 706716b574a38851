"""Pseudo-name augmentation: training rows added again with their clinical names replaced by made-up ones.

Why: on the sample profile the reranker scores 0.930 on test rows in the seen vocabulary and 0.489 on the held-out
names (README, "Now"), where the lexical rule, which matches any string, does not fall. The adapter learnt which
*known* concepts a note mentions rather than to match the criterion's subject against the note. A copy of a row whose
every lexicon name is replaced by a made-up name (the same one everywhere in the row, synonyms included) keeps its
label, since "is the criterion's subject in the note" does not depend on the name, but can only be answered by
matching. This is entity-replacement augmentation, applied to the training split only; val and test are never
touched.

The made-up names use syllables the sample generator never uses (its held-out drugs come from
`sample.lexicon._SYLLABLES`), so no augmented row can contain a held-out test name. Rows that name a drug class are
left alone: "an anticoagulant" covers apixaban by knowledge, not by string, which a made-up name would break.
"""

from __future__ import annotations

import random
import re

# Disjoint from sample.lexicon._SYLLABLES (checked in tests/test_augment.py).
_SYLLABLES = ("bo", "kel", "dru", "fam", "gi", "hus", "jo", "lin", "pex", "sto", "wa", "yur", "cam", "nob", "plo", "vek")
_UNCHANGED_KEYS = frozenset({"id", "group", "label", "meta", "task", "role"})


def made_up_name(rng: random.Random) -> str:
    """One to three made-up words of two or three syllables ("kelbo", "husdru jofam")."""
    return " ".join("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))) for _ in range(rng.randint(1, 3)))


class PseudoNames:
    """Replaces every lexicon name in a row by a made-up name, one per concept and row."""

    def __init__(self) -> None:
        from medtune.sample import lexicon as lx
        from medtune.train.lexicon_match import lexicon_concepts, surface_pattern

        classes = set(lx.DRUG_CLASSES)
        generic = {"pregnancy", "chemotherapy"}  # plain words of the criteria, not names
        self.concepts = [c for c in lexicon_concepts() if c[0] not in classes and c[0] not in generic]
        self.patterns = [surface_pattern(c) for c in self.concepts]
        # Case-insensitive, to catch a synonym the case-sensitive patterns left ("Hemoglobin A1c" for "hemoglobin A1c")
        self.residues = [re.compile(surface_pattern(c).pattern, re.IGNORECASE) for c in self.concepts]
        self.class_pattern = surface_pattern(tuple(classes))

    def variant(self, row: dict, rng: random.Random) -> dict | None:
        """The row with its names replaced, or None when it names none or names a drug class, or when a replaced
        concept would survive under another spelling: a criterion still saying "Hemoglobin A1c" over a note whose
        "HbA1c" was replaced would no longer carry its label."""
        texts = _strings(row)
        if any(self.class_pattern.search(t) for t in texts):
            return None
        present = [i for i, p in enumerate(self.patterns) if any(p.search(t) for t in texts)]
        if not present:
            return None
        names = {i: made_up_name(rng) for i in present}

        def replace(text: str) -> str:
            for i in present:
                text = self.patterns[i].sub(lambda m, i=i: _match_case(m.group(0), names[i]), text)
            return text

        replaced = _map_strings(row, replace)
        if any(self.residues[i].search(t) for i in present for t in _strings(replaced)):
            return None
        return replaced


def _match_case(surface: str, name: str) -> str:
    return name[0].upper() + name[1:] if surface[:1].isupper() and surface[1:2].islower() else name


def _strings(row: dict) -> list[str]:
    """The row's strings that `_map_strings` would rewrite."""
    found: list[str] = []
    _map_strings(row, lambda text: found.append(text) or text)
    return found


def _map_strings(value, fn, key: str | None = None):
    """`value` with `fn` applied to every string in it, except under bookkeeping keys (ids, labels, roles, meta)."""
    if key in _UNCHANGED_KEYS:
        return value
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {k: _map_strings(v, fn, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_strings(v, fn) for v in value]
    return value


def pseudo_name_rows(rows: list[dict], share: float, seed: int) -> list[dict]:
    """Variants of about `share` of the rows (each row drawn with that probability; rows without a name or naming a
    drug class give none), in row order. Deterministic for a seed."""
    if not 0.0 <= share <= 1.0:
        from medtune.config import ConfigError

        raise ConfigError(f"train.pseudo_names must be between 0 and 1, got {share!r}")
    if share == 0.0:
        return []
    names = PseudoNames()
    rng = random.Random(seed)
    out = []
    for row in rows:
        if rng.random() < share:
            variant = names.variant(row, rng)
            if variant is not None:
                out.append(variant)
    return out

