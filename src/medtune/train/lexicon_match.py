"""The sample world's clinical concepts and how to find their names in text: shared by the tiny base's label-free
pretraining documents (train/base_lm.py) and the pseudo-name augmentation of SFT rows (train/augment.py).

Its own module so that the SFT stages depend on these few lines and the lexicon, not on all of base_lm."""

from __future__ import annotations

import re


def lexicon_concepts() -> list[tuple[str, ...]]:
    """Concepts of the sample world as tuples of surface forms (synonyms; a drug class lists its members too).

    The stand-in for the domain knowledge a real instruction-tuned base brings (that T2DM is type 2 diabetes,
    that warfarin is an anticoagulant). Only the *common* vocabulary: the holdout names stay unseen until test."""
    from medtune.sample import lexicon as lx

    concepts = [c.names for c in lx.CONDITIONS]
    concepts += [lab.names for lab in lx.LABS]
    concepts += [(name, *members) for name, members in lx.DRUG_CLASSES.items()]
    class_members = {d for members in lx.DRUG_CLASSES.values() for d in members}
    concepts += [(drug,) for drug in lx.OTHER_DRUGS if drug not in class_members]
    concepts += [(drug,) for drug in sorted(class_members)]
    concepts += [(gene,) for gene in lx.GENES] + [(proc,) for proc in lx.PROCEDURES]
    concepts += [("pregnancy", "pregnant"), ("chemotherapy",)]
    return concepts


def surface_pattern(surfaces: tuple[str, ...]) -> re.Pattern:
    """Whole-word match; case-sensitive (eGFR the lab is not EGFR the gene) except a sentence-initial capital on
    words that are otherwise lower case ("Heart failure")."""
    alternatives = [f"[{re.escape(s[0].lower())}{re.escape(s[0].upper())}]{re.escape(s[1:])}" if s[1:].islower() else re.escape(s)
                    for s in surfaces]
    return re.compile(r"(?<![A-Za-z0-9])(?:" + "|".join(alternatives) + r")(?![A-Za-z0-9])")
