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


# ---- seed-002 (chem-ner) rows: the names their answers list ---------------------------------------------------------

def test_chem_ner_answer_names_are_replaced_in_the_article_and_the_answer_alike():
    row = {"id": "a", "group": "chem-ner:article-1", "task": "influences",
           "text": "Cisplatin-induced nephrotoxicity was observed in 9 of the rats. Aspirin did not affect the incidence "
                   "of nephrotoxicity. Heart failure is a major cause of morbidity.",
           "answers": ["cisplatin | nephrotoxicity"], "meta": {"names": ["cisplatin", "nephrotoxicity"]}}
    variant = augment.AnswerNames().variant(row, random.Random(5))
    chemical, disease = variant["answers"][0].split(" | ")
    assert {chemical, disease}.isdisjoint({"cisplatin", "nephrotoxicity"}) and chemical != disease
    # the hyphenated mention and the capitalised sentence start are both replaced, with the row's one made-up name
    assert variant["text"].startswith(f"{chemical[0].upper()}{chemical[1:]}-induced {disease} was observed")
    assert f"incidence of {disease}." in variant["text"]
    # names the answer does not list stay: a co-mentioned drug and an unrelated disease are not this row's answer
    assert "Aspirin did not affect" in variant["text"] and "Heart failure is" in variant["text"]
    assert {k: variant[k] for k in ("id", "group", "task", "meta")} == {k: row[k] for k in ("id", "group", "task", "meta")}


def test_chem_ner_longer_names_win_and_every_listed_name_gets_its_own_made_up_name():
    row = {"task": "diseases", "text": "Hepatitis B and hepatitis were recorded. Hepatitis B resolved.",
           "answers": ["hepatitis B", "hepatitis"]}
    variant = augment.AnswerNames().variant(row, random.Random(6))
    long, short = (a.lower() for a in variant["answers"])
    assert not long.startswith(short) and "hepatitis" not in variant["text"].lower()  # not "<short's name> B"
    assert variant["text"].lower() == f"{long} and {short} were recorded. {long} resolved."


@pytest.mark.parametrize("row", [
    {"task": "diseases", "text": "Thalassanemia was recorded.", "answers": ["anemia"]},  # not a whole word of the text
    {"task": "chemicals", "text": "No chemical is named here.", "answers": []},  # nothing to replace
    {"task": "diseases", "text": "Hepatitis B was recorded.", "answers": ["hepatitis B", "hepatitis"]},  # only inside a longer name
], ids=["inside-a-word", "no-answer", "only-inside-a-longer-name"])
def test_chem_ner_rows_whose_answer_could_stop_matching_give_no_variant(row):
    assert augment.AnswerNames().variant(row, random.Random(7)) is None


def test_chem_ner_made_up_names_never_spell_a_held_out_name():
    from medtune.sample import chem_ner as cn

    held_out_words = {w for name in cn.HOLDOUT_CHEMICALS + cn.HOLDOUT_DISEASES for w in re.split(r"[ -]", name.lower()) if len(w) >= 4}
    rng = random.Random(0)
    made = " ".join(made_up_name(rng) for _ in range(5000))
    assert not [w for w in held_out_words if w in made]


def test_pseudo_name_rows_picks_the_answer_names_for_chem_ner_only():
    rows = [{"task": "chemicals", "text": f"Streptozotocin levels were measured by HPLC in visit {i}.",
             "answers": ["streptozotocin"]} for i in range(40)]
    chem = pseudo_name_rows(rows, 1.0, seed=3, task="chem-ner")
    assert len(chem) == 40 and all(r["answers"][0] != "streptozotocin" and r["answers"][0] in r["text"].lower() for r in chem)
    # every other task uses the clinical lexicon, which has no streptozotocin: no variant
    assert pseudo_name_rows(rows, 1.0, seed=3, task="reranker") == []
