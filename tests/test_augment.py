"""Pseudo-name augmentation (train/augment.py): labels survive, held-out names never appear, bad shares are errors."""

import random
import re

import pytest

from medtune.config import ConfigError
from medtune.sample import lexicon as lx
from medtune.train import augment
from medtune.train.augment import PseudoNames, made_up_name, pseudo_name_rows


@pytest.fixture(scope="module")
def names():
    return PseudoNames()


def test_made_up_names_share_no_syllable_with_the_held_out_drugs():
    assert not set(augment._SYLLABLES) & set(lx._SYLLABLES)
    rng = random.Random(0)
    held_out = {n.lower() for n in lx.HOLDOUT_DRUGS + lx.HOLDOUT_GENES + lx.HOLDOUT_PROCEDURES}
    held_out |= {n.lower() for c in lx.CONDITIONS + lx.HOLDOUT_CONDITIONS for n in c.holdout_names}
    made = {made_up_name(rng) for _ in range(2000)}
    assert not made & held_out
    assert all(re.fullmatch(r"[a-z]+( [a-z]+){0,2}", m) for m in made)


def test_synonyms_become_one_made_up_name_in_the_criterion_and_the_note(names):
    row = {"patient_text": "Known T2DM, diagnosed 3 years ago. Takes metformin.", "criterion": "History of type 2 diabetes",
           "label": "Yes", "meta": {"names": ["T2DM"]}}
    variant = names.variant(row, random.Random(1))
    assert variant["label"] == "Yes" and variant["meta"] == row["meta"]
    subject = re.fullmatch(r"History of (.+)", variant["criterion"]).group(1)
    assert subject in variant["patient_text"]  # the same made-up name in both places: the label still holds
    assert "T2DM" not in variant["patient_text"] and "metformin" not in variant["patient_text"]
    assert ", diagnosed 3 years ago. Takes " in variant["patient_text"]  # only the names change


def test_an_absent_subject_stays_absent(names):
    row = {"patient_text": "Takes metformin daily.", "criterion": "Currently receiving furosemide", "label": "No"}
    variant = names.variant(row, random.Random(2))
    drug = variant["criterion"].removeprefix("Currently receiving ")
    assert drug != "furosemide" and drug not in variant["patient_text"]


def test_chat_rows_are_rewritten_in_every_turn_but_not_their_roles(names):
    row = {"messages": [{"role": "user", "content": "Criterion: No current use of warfarin\n\nPatient: Takes warfarin."},
                        {"role": "assistant", "content": '{"reasoning": "The patient takes warfarin.", "verdict": "not_met"}'}],
           "label": "not_met"}
    # warfarin is a member of a drug class but the row does not name the class: it is replaced like any drug
    variant = names.variant(row, random.Random(3))
    assert [m["role"] for m in variant["messages"]] == ["user", "assistant"]
    assert not any("warfarin" in m["content"] for m in variant["messages"])


@pytest.mark.parametrize("row", [
    {"patient_text": "Takes apixaban.", "criterion": "No current use of an anticoagulant", "label": "Yes"},  # class
    {"patient_text": "Walks daily.", "criterion": "Aged 18 years or older", "label": "No"},  # no name at all
    {"patient_text": "HbA1c 7.1 %.", "criterion": "Hemoglobin A1c of at least 6.5 %", "label": "Yes"},  # a spelling left
], ids=["drug-class", "no-name", "residue"])
def test_rows_whose_label_could_change_give_no_variant(names, row):
    assert names.variant(row, random.Random(4)) is None


def test_the_share_is_drawn_deterministically_and_checked():
    rows = [{"patient_text": f"Takes metformin. Visit {i}.", "criterion": "Currently receiving metformin", "label": "Yes"}
            for i in range(200)]
    first, again = pseudo_name_rows(rows, 0.5, seed=7), pseudo_name_rows(rows, 0.5, seed=7)
    assert first == again and 70 <= len(first) <= 130
    assert pseudo_name_rows(rows, 0.0, seed=7) == []
    with pytest.raises(ConfigError, match="pseudo_names must be between 0 and 1"):
        pseudo_name_rows(rows, 1.5, seed=7)
