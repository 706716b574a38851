"""The lexical baseline: every entity surface of the training split, looked up verbatim in the test text.

"Exact string lookup": a surface matches where it occurs case-sensitively with no word character on
either side; longer surfaces win over shorter ones they overlap (so "breast cancer" beats "cancer"), and a
surface seen under several labels gets the one it had most often in training.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict

from medtune.text import normalize_surface


class Gazetteer:
    def __init__(self, rows: list[dict]):
        votes: dict[str, Counter] = defaultdict(Counter)
        for row in rows:
            for entity in row.get("entities", []):
                surface = row["text"][entity["start"]:entity["end"]]
                if surface.strip():
                    votes[surface][entity["label"]] += 1
        # Most frequent label; ties broken by label name so the baseline is deterministic.
        self.labels = {surface: min(counts, key=lambda label: (-counts[label], label)) for surface, counts in votes.items()}
        self.normalized = {normalize_surface(surface) for surface in self.labels}
        alternatives = sorted(self.labels, key=lambda s: (-len(s), s))
        self._pattern = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, alternatives)) + r")(?!\w)") if alternatives else None

    def __len__(self) -> int:
        return len(self.labels)

    def seen(self, surface: str) -> bool:
        """Whether a surface (normalized) occurred as an entity in the training split."""
        return normalize_surface(surface) in self.normalized

    def extract(self, text: str) -> list[dict]:
        """Non-overlapping matches, leftmost first; at one position the longest surface wins (regex
        alternation tries the longer alternatives first)."""
        if self._pattern is None:
            return []
        return [
            {"label": self.labels[m.group()], "start": m.start(), "end": m.end(), "text": m.group()}
            for m in self._pattern.finditer(text)
        ]
