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

Seed-002 (chem-ner) rows list their names in `answers`, so there the names to replace are exactly those: every
chemical or disease the row's answer lists (both sides of a "chemical | disease" pair), in the article and in the
answer alike. Why: on stop 27's lock the adapter found 0.75 of the seen disease names in the test articles and 0.04
of the unseen ones (chemicals: 0.83 and 0.27), and 62 of its 75 wrong disease answers were seen names absent from
the article: it recalls the training lexicon instead of copying from the text. The sample's disease long tail (organ
+ pathology, 100 combinations) is all seen in training, unlike its made-up drug names.
"""

from __future__ import annotations

import random
import re

# Disjoint from sample.lexicon._SYLLABLES (checked in tests/test_augment.py).
_SYLLABLES = ("bo", "kel", "dru", "fam", "gi", "hus", "jo", "lin", "pex", "sto", "wa", "yur", "cam", "nob", "plo", "vek")
_UNCHANGED_KEYS = frozenset({"id", "group", "label", "meta", "task", "role"})
RELATION_SEPARATOR = " | "  # seed 002's "chemical | disease" answer lines


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


class AnswerNames:
    """Replaces every name a seed-002 row's answers list by a made-up name, one per name and row."""

    def variant(self, row: dict, rng: random.Random) -> dict | None:
        """The row with its answer names replaced, or None when it lists none or one of them is not a whole word of
        the article ("anemia" inside "thalassanemia"), or occurs only inside a longer listed name ("hepatitis" only
        in "hepatitis B"): its made-up name would then be in the answer but not in the article."""
        names = list(dict.fromkeys(side.strip().lower() for item in row.get("answers") or ()
                                   for side in item.split(RELATION_SEPARATOR) if side.strip()))
        article = row.get("text")
        if not names or not isinstance(article, str):
            return None
        pattern = _whole_words(names)
        # the matches the replacement will make, so a name counts as present only where it will be replaced
        if set(names) - {match.lower() for match in pattern.findall(article)}:
            return None
        made: dict[str, str] = {}
        for name in names:
            while (candidate := made_up_name(rng)) in made.values():
                pass  # two names of one row must stay two names
            made[name] = candidate
        return _map_strings(row, lambda text: pattern.sub(lambda m: _match_case(m.group(0), made[m.group(0).lower()]), text))


def _whole_words(names: list[str]) -> re.Pattern:
    """Any of `names` as whole words, case-insensitively (answers are lower case, articles are not). Longest first, so
    "hepatitis" cannot take the start of "hepatitis B"; a hyphen may follow ("cisplatin-induced")."""
    alternation = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?<!\w)({alternation})(?!\w)", re.IGNORECASE)


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


def pseudo_name_rows(rows: list[dict], share: float, seed: int, task: str = "") -> list[dict]:
    """Variants of about `share` of the rows (each row drawn with that probability; rows without a name or naming a
    drug class give none), in row order. Deterministic for a seed. chem-ner rows replace their answer names, every
    other task the clinical lexicon's names."""
    if not 0.0 <= share <= 1.0:
        from medtune.config import ConfigError

        raise ConfigError(f"train.pseudo_names must be between 0 and 1, got {share!r}")
    if share == 0.0:
        return []
    names = AnswerNames() if task == "chem-ner" else PseudoNames()
    rng = random.Random(seed)
    out = []
    for row in rows:
        if rng.random() < share:
            variant = names.variant(row, rng)
            if variant is not None:
                out.append(variant)
    return out

