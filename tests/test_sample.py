"""The sample generator: deterministic, rule-labelled, in accepted formats, with dirty rows and holdout vocabulary."""

import json
import random
from collections import Counter

import pytest

from medtune import prompts, sample
from medtune.data.formats import RowError, parser_for
from medtune.sample import lexicon as lx
from medtune.sample import world
from medtune.sample.dirty import with_dirty_rows

WORLD_TASKS = ("reranker", "cot", "ner", "nli")


def patient(**facts):
    base = dict(pid="p1", holdout=False, age=54, sex="woman", conditions={}, condition_names={}, family_history=None, medications={},
                labs={}, lab_names={}, pregnant=None, chemo_lines=None, genes={}, procedures=[])
    return world.Patient(**(base | facts))


def criterion(kind, **params):
    return world.Criterion(kind, f"<{kind}>", "t", params)


def test_age_range_is_inclusive_and_unknown_without_age():
    assert world.evaluate(criterion("age_range", lo=18, hi=54), patient()).verdict == "met"
    assert world.evaluate(criterion("age_range", lo=18, hi=53), patient()).verdict == "not_met"
    assert world.evaluate(criterion("age_min", lo=18, hi=None), patient(age=None)).verdict == "unknown"


def test_hba1c_reported_in_mmol_per_mol_is_converted_before_comparing():
    p = patient(labs={"hba1c": world.LabValue(7.5, alt_unit=True)}, lab_names={"hba1c": "HbA1c"})
    shown, unit = world.lab_report(lx.LABS[0], p.labs["hba1c"])
    assert (shown, unit) == ("58", "mmol/mol")  # (7.5 - 2.15) * 10.929 = 58.5 → 58
    verdict = world.evaluate(criterion("lab_min", lab="hba1c", threshold=7.4), p)
    assert verdict.verdict == "met" and "58 mmol/mol (7.5 %)" in verdict.reasoning
    assert world.evaluate(criterion("lab_max", lab="hba1c", threshold=7.4), p).verdict == "not_met"
    assert world.evaluate(criterion("lab_min", lab="egfr", threshold=60), p).verdict == "unknown"


def test_negation_class_exclusion_pregnancy_and_family_history():
    p = patient(conditions={"hf": False}, condition_names={"hf": "heart failure", "t2d": "T2DM"}, family_history="t2d",
                medications={"apixaban": True})
    assert world.evaluate(criterion("cond_excl", cond="hf"), p).verdict == "met"
    assert world.evaluate(criterion("cond_req", cond="hf"), p).verdict == "not_met"
    family = world.evaluate(criterion("cond_req", cond="t2d"), p)
    assert family.verdict == "unknown" and not family.informative and "family history" in family.reasoning
    assert world.evaluate(criterion("class_excl", cls="anticoagulant"), p).verdict == "not_met"
    assert world.evaluate(criterion("preg_excl"), patient(sex="man")).verdict == "met"
    assert world.evaluate(criterion("preg_excl"), patient(pregnant=True)).verdict == "not_met"
    assert world.evaluate(criterion("preg_excl"), patient()).verdict == "unknown"


@pytest.mark.parametrize("task", WORLD_TASKS)
def test_generation_is_deterministic_and_rows_parse(task):
    a, b = sample.generate(task, 150, seed=7), sample.generate(task, 150, seed=7)
    assert a == b and a != sample.generate(task, 150, seed=8) and len(a) == 150
    parse = parser_for(task)
    for row in a:
        parse(row)  # raises RowError on any invalid row


def test_reranker_and_cot_labels_follow_the_rules():
    rows = sample.generate("reranker", 400, seed=3)
    shares = Counter(r["label"] for r in rows)
    assert 0.35 < shares["Yes"] / len(rows) < 0.65
    per_patient = Counter(r["group"] for r in rows)
    assert min(per_patient.values()) >= 1 and sum(per_patient.values()) / len(per_patient) > 4  # ranking needs several per patient
    cot = sample.generate("cot", 300, seed=3)
    verdicts = Counter(prompts.parse_cot_verdict(r["messages"][-1]["content"] if "messages" in r else r["output"]) for r in cot)
    assert set(verdicts) == {"met", "not_met", "unknown"}
    assert {("messages" in r) for r in cot} == {True, False}  # both chat and instruct formats


def test_ner_rows_use_all_five_formats():
    rows = sample.generate("ner", 400, seed=3)
    kinds = Counter(
        "ner" if "ner" in r else "schema" if "schema" in r else "structures" if "structures" in r
        else ("relations" if "relations" in r["output"] else "input_output") if "input" in r else "entities" for r in rows)
    assert set(kinds) == {"entities", "ner", "input_output", "schema", "relations", "structures"}


def test_nli_hypothesis_templates_are_not_label_specific():
    rows = sample.generate("nli", 900, seed=3)
    by_template = {}
    for r in rows:
        by_template.setdefault(r["meta"]["templates"][-1], Counter())[r["label"]] += 1
    frequent = {t: c for t, c in by_template.items() if sum(c.values()) >= 30}
    assert frequent and all(len(c) >= 2 for c in frequent.values())


@pytest.mark.parametrize("task", WORLD_TASKS)
def test_holdout_groups_use_vocabulary_nobody_else_uses(task):
    rows = sample.generate(task, 600, seed=5, holdout_fraction=0.2)
    held = [r for r in rows if r["meta"]["holdout"]]
    common = [r for r in rows if not r["meta"]["holdout"]]
    assert held and common
    common_templates = {t for r in common for t in r["meta"]["templates"]}
    assert all(set(r["meta"]["templates"]) - common_templates for r in held)


@pytest.mark.parametrize("task", WORLD_TASKS)
def test_dirty_rows_are_about_three_percent_and_clean_catches_them(task, tmp_path):
    rows = sample.generate(task, 400, seed=2)
    lines = with_dirty_rows(task, rows, 0.03, random.Random(0))
    assert len(lines) == 412
    parse = parser_for(task)
    bad = 0
    for line in lines:
        try:
            parse(json.loads(line))
        except (json.JSONDecodeError, RowError):
            bad += 1
    assert 0 < bad <= 12


def test_write_sample_is_byte_identical_across_runs(tmp_path):
    sizes = {"reranker": 50, "nli": 30}
    sample.write_sample(tmp_path / "a", sizes, 42, 0.03, 0.05)
    sample.write_sample(tmp_path / "b", sizes, 42, 0.03, 0.05)
    for task in sizes:
        assert (tmp_path / "a" / task / "sample.jsonl").read_bytes() == (tmp_path / "b" / task / "sample.jsonl").read_bytes()


@pytest.mark.parametrize("task", ("reranker", "cot"))
def test_note_facts_caps_note_length_and_labels_follow_the_shorter_note(task):
    full = sample.generate(task, 300, seed=4)
    short = sample.generate(task, 300, seed=4, note_facts=4)
    assert full == sample.generate(task, 300, seed=4, note_facts=0)  # 0 keeps the original behaviour
    note = (lambda r: r["patient_text"]) if task == "reranker" else (lambda r: (r.get("messages") or [{}, {"content": r.get("input", "")}])[1]["content"])
    mean = lambda rows: sum(len(note(r)) for r in rows) / len(rows)  # noqa: E731
    assert mean(short) < 0.75 * mean(full)
    for row in short:
        sentences = [s for s in note(row).split("Patient: ")[-1].split(". ") if s]
        assert len(sentences) <= 1 + 4 + 2  # age line + facts + at most two fillers


def test_limit_facts_removes_the_facts_not_only_their_sentences():
    rng = random.Random(0)
    p = world.make_patient(rng, "p", holdout=False, max_facts=2)
    assert len(world.fact_keys(p)) <= 2
    note = world.render_note(rng, p).text
    for key in p.conditions:  # a dropped condition is unknown to the rules and absent from the note
        assert p.condition_names[key] in note
    dropped = [c for c in lx.CONDITIONS if c.key not in p.conditions and c.key != p.family_history]
    verdict = world.evaluate(world.Criterion("cond_req", "x", "t", {"cond": dropped[0].key}), p)
    assert verdict.verdict == "unknown"


def test_fetch_passes_note_facts_only_to_the_tasks_named():
    from medtune.data.fetch import generator_options

    assert generator_options({"note_facts": {"cot": 5, "reranker": 4}}) == {"cot": {"note_facts": 5}, "reranker": {"note_facts": 4}}
    assert generator_options({}) == {}
    with pytest.raises(Exception, match="note_facts"):
        generator_options({"note_facts": 5})
