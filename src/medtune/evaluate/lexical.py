"""Lexical baselines for the criterion tasks: does the patient text share the criterion's content words?

The reranker's label ("the patient text has enough information to evaluate the criterion") and the CoT's
unknown-vs-decided split are largely a question of whether the criterion's concept is mentioned, so word overlap
is the natural floor: a fine-tuned model that cannot beat it has learnt nothing beyond string matching. Paraphrases
("high blood pressure" for "hypertension") and unit variants are exactly where it fails.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from medtune.text import normalize

_WORD = re.compile(r"[a-z0-9]+(?:[.-][a-z0-9]+)*")
# Function words and criterion boilerplate that say nothing about the concept.
STOPWORDS = frozenset(
    "a an and any are as at be been being by can during for from has have history in into is it least more most no "
    "not of on or other over per than that the their this to under was were with within without years year months "
    "month weeks week days day patient patients participant participants subject subjects documented diagnosed "
    "diagnosis known current currently prior previous previously evidence must should adequate eligible criterion "
    "age aged older younger above below less greater equal".split()
)
NEGATION = re.compile(r"\b(no|not|denies|denied|negative|never|without|stopped|discontinued|absent|ruled out)\b")
_SENTENCE = re.compile(r"(?<=[.;!?])\s+")


def content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(normalize(text)) if len(w) > 2 and w not in STOPWORDS}


def overlap(criterion: str, patient_text: str) -> float:
    """Share of the criterion's content words found in the patient text (0 when it has none)."""
    wanted = content_words(criterion)
    return len(wanted & content_words(patient_text)) / len(wanted) if wanted else 0.0


def overlap_features(pairs: Sequence[tuple[str, str]]) -> np.ndarray:
    """One column: overlap of each (patient_text, criterion) pair."""
    return np.asarray([[overlap(criterion, patient)] for patient, criterion in pairs])


def best_threshold(values: np.ndarray, positive: np.ndarray) -> float:
    """The cut on `values` (predict positive when value >= cut) with the best training accuracy (ties: lowest cut)."""
    values, positive = np.asarray(values, dtype=float), np.asarray(positive, dtype=bool)
    candidates = np.unique(np.concatenate([values, [np.inf]]))
    accuracies = [((values >= cut) == positive).mean() for cut in candidates]
    return float(candidates[int(np.argmax(accuracies))])


def matching_sentences(criterion: str, patient_text: str) -> list[str]:
    """Patient sentences that share a content word with the criterion."""
    wanted = content_words(criterion)
    return [s for s in _SENTENCE.split(normalize(patient_text)) if wanted & content_words(s)]


def negated(sentences: Sequence[str]) -> bool:
    return any(NEGATION.search(s) for s in sentences)
