"""chem-ner data (seed 002): generator, raw → canonical parsing (relation format conversion, normalization,
rejections), clean with dirty rows, stratified grouped split and the leakage assertion."""

import json
import random
from collections import Counter

import pytest

from medtune import prompts
from medtune.data.clean import clean_files
from medtune.data.formats import RowError, parser_for
from medtune.data.split import LeakageError, assert_no_leakage, split_rows
from medtune.sample import chem_ner, generate, write_sample
from medtune.text import normalize

ARTICLE = "Cisplatin-induced nephrotoxicity was observed in 12 rats. Aspirin levels were measured by HPLC."
SEED_PROMPT = (
    "The following article contains technical terms including diseases, drugs and chemicals. Create a list only of the "
    "{task} mentioned.\n\n" + ARTICLE + "\n\nList of extracted {task}:\n"
)


def parse(obj):
    return parser_for("chem-ner")(obj)


# ---- parser ----------------------------------------------------------------------------------------------------


def test_seed_prompt_completion_rows_parse_into_task_text_and_answers():
    row = parse({"prompt": SEED_PROMPT.format(task="chemicals"), "completion": "- cisplatin\n- aspirin\n"}).row
    assert row["task"] == "chemicals" and row["text"] == ARTICLE and row["answers"] == ["cisplatin", "aspirin"]
    assert row["group"].startswith("chem-ner:h") and len(row["id"]) == 16


def test_relation_sentence_form_is_converted_to_the_pipe_form():
    sentence = parse({"prompt": SEED_PROMPT.format(task="influences"), "completion": "- chemical Cisplatin influences disease  nephrotoxicity"}).row
    pipe = parse({"task": "influences", "text": ARTICLE, "relations": ["Cisplatin | nephrotoxicity"]}).row
    pair = parse({"task": "relations", "text": ARTICLE, "relations": [["Cisplatin", "nephrotoxicity"]]}).row
    obj = parse({"task": "influences", "text": ARTICLE, "relations": [{"chemical": "Cisplatin", "disease": "nephrotoxicity"}]}).row
    assert sentence["answers"] == pipe["answers"] == pair["answers"] == obj["answers"] == ["Cisplatin | nephrotoxicity"]
    # same input (task + article), same answers: one dedupe identity whichever form the row came in
    assert sentence["id"] == pipe["id"]


def test_the_real_seed_rows_without_a_list_suffix_still_parse():
    prompt = SEED_PROMPT.format(task="diseases").split("\n\nList of extracted")[0]
    row = parse({"prompt": prompt, "completion": "- nephrotoxicity"}).row
    assert row["text"] == ARTICLE and row["task"] == "diseases"


def test_answers_are_whitespace_normalized_and_deduplicated_case_insensitively():
    row = parse({"task": "Chemicals", "text": ARTICLE, "entities": ["  cisplatin ", "Cisplatin", "aspirin\t"]}).row
    assert row["task"] == "chemicals" and row["answers"] == ["cisplatin", "aspirin"]


def test_same_article_different_task_is_a_different_input_but_the_same_group():
    a = parse({"task": "chemicals", "text": ARTICLE, "entities": ["aspirin"]}).row
    b = parse({"task": "diseases", "text": ARTICLE, "entities": ["nephrotoxicity"]}).row
    assert a["id"] != b["id"] and a["group"] == b["group"]


@pytest.mark.parametrize("obj, reason", [
    ({"prompt": SEED_PROMPT.format(task="chemicals"), "completion": "  "}, "missing_label"),
    ({"prompt": SEED_PROMPT.format(task="chemicals"), "completion": "-\n- "}, "missing_label"),
    ({"prompt": SEED_PROMPT.format(task="chemicals")}, "missing_label"),
    ({"prompt": SEED_PROMPT.format(task="proteins"), "completion": "- p53"}, "unknown_label"),
    ({"task": "genes", "text": ARTICLE, "entities": ["BRCA1"]}, "unknown_label"),
    ({"task": "chemicals", "text": ARTICLE}, "missing_label"),
    ({"task": "chemicals", "text": "  ", "entities": ["aspirin"]}, "empty_text"),
    ({"task": "influences", "text": ARTICLE, "relations": ["cisplatin causes nephrotoxicity"]}, "bad_type"),
    ({"task": "influences", "text": ARTICLE, "relations": ["cisplatin | "]}, "bad_type"),
    ({"task": "chemicals", "text": ARTICLE, "entities": "aspirin"}, "bad_type"),
    ({"text": ARTICLE, "entities": ["aspirin"]}, "unknown_format"),
], ids=["blank-completion", "bullets-only", "no-completion", "unknown-prompt-task", "unknown-task", "no-answers", "empty-text",
        "unparseable-relation", "half-relation", "answers-not-a-list", "no-task"])
def test_bad_rows_are_rejected_with_a_reason(obj, reason):
    with pytest.raises(RowError) as error:
        parse(obj)
    assert error.value.reason == reason


# ---- generator ---------------------------------------------------------------------------------------------------


def test_generator_is_deterministic_and_gives_three_task_rows_per_article():
    rows = generate("chem-ner", 90, seed=3, holdout_fraction=0.1)
    assert rows == generate("chem-ner", 90, seed=3, holdout_fraction=0.1)
    by_group = Counter(r["group"] for r in rows)
    assert len(rows) == 90 and set(by_group.values()) == {3}
    parsed = [parse(r).row for r in rows]
    assert Counter(r["task"] for r in parsed) == {t: 30 for t in prompts.CHEM_NER_TASKS}


def test_generated_answers_are_grounded_and_relations_come_in_both_forms():
    rows = generate("chem-ner", 300, seed=1, holdout_fraction=0.05)
    completions = " ".join(r.get("completion", "") for r in rows)
    assert " influences disease " in completions and " | " in completions
    for raw in rows:
        row = parse(raw).row
        text = normalize(row["text"])
        for answer in row["answers"]:
            for side in answer.split(" | "):
                assert normalize(side) in text, (side, row["text"])


def test_holdout_articles_use_only_holdout_names_and_relation_phrasings():
    rows = generate("chem-ner", 600, seed=2, holdout_fraction=0.1)
    held = [r for r in rows if r["meta"]["holdout"]]
    common = [r for r in rows if not r["meta"]["holdout"]]
    assert held and common
    common_names = {n for r in common for n in r["meta"]["names"]}
    assert not {n for r in held for n in r["meta"]["names"]} & (set(chem_ner.HOLDOUT_CHEMICALS) | set(chem_ner.HOLDOUT_DISEASES)) & common_names
    assert not any(t in chem_ner.HOLDOUT_RELATION for r in common for t in r["meta"]["templates"])
    assert any(t in chem_ner.HOLDOUT_RELATION for r in held for t in r["meta"]["templates"])


def test_co_mention_sentences_are_not_relations():
    """The hard negatives: an article can name a chemical and a disease in one sentence with no influence."""
    rng = random.Random(0)
    found = False
    for _ in range(200):
        article = chem_ner.make_article(rng, chem_ner.COMMON)
        if any(t in chem_ner.CO_MENTION for t in article["templates"]):
            related = {c for c, _ in article["relation_pairs"]}
            assert set(article["chemicals"]) - related, article
            found = True
    assert found


# ---- clean + split -------------------------------------------------------------------------------------------------


def test_clean_handles_the_dirty_sample_rows(tmp_path):
    write_sample(tmp_path / "raw", {"chem-ner": 300}, seed=5, dirty_fraction=0.1, holdout_fraction=0.05)
    report = clean_files("chem-ner", [tmp_path / "raw" / "chem-ner" / "sample.jsonl"], tmp_path / "clean.jsonl", tmp_path / "q.jsonl")
    assert report.read == 330 and report.duplicates > 0 and report.rejected > 0
    assert set(report.reasons) <= {"invalid_json", "missing_label", "unknown_label", "conflict"}
    quarantined = [json.loads(line) for line in (tmp_path / "q.jsonl").read_text().splitlines()]
    assert all(q["file"].endswith("sample.jsonl") and q["line"] > 0 for q in quarantined)
    rows = [json.loads(line) for line in (tmp_path / "clean.jsonl").read_text().splitlines()]
    assert all(r["task"] in prompts.CHEM_NER_TASKS and r["answers"] and " influences disease " not in " ".join(r["answers"]) for r in rows)


def test_split_is_stratified_by_task_grouped_by_article_and_leak_free():
    rows = [parse(r).row for r in generate("chem-ner", 900, seed=4, holdout_fraction=0.05)]
    splits = split_rows("chem-ner", rows, {"train": 0.8, "val": 0.1, "test": 0.1}, seed=4)
    groups = {name: {r["group"] for r in part} for name, part in splits.items()}
    assert not (groups["train"] & groups["test"] or groups["train"] & groups["val"] or groups["val"] & groups["test"])
    for name, part in splits.items():
        shares = Counter(r["task"] for r in part)
        assert all(abs(shares[t] / len(part) - 1 / 3) < 0.05 for t in prompts.CHEM_NER_TASKS), (name, shares)
    assert all(r["group"] in groups["test"] for r in rows if r["meta"]["holdout"])


def test_leakage_assertion_fires_when_an_article_crosses_splits():
    rows = [parse(r).row for r in generate("chem-ner", 30, seed=4, holdout_fraction=0.0)]
    splits = {"train": rows[:15], "val": rows[15:24], "test": rows[24:]}
    crossing = next(r for r in rows[:15] if r["group"] == rows[14]["group"])
    leaked = {"train": rows[:15], "val": rows[15:], "test": [dict(crossing, id="f" * 16)]}
    with pytest.raises(LeakageError, match="group"):
        assert_no_leakage("chem-ner", leaked)
    copied = dict(rows[0], group="chem-ner:other")
    with pytest.raises(LeakageError, match="normalized input hash"):
        assert_no_leakage("chem-ner", {"train": rows[:15], "val": [], "test": [copied]})
    # a legit split by whole articles (15 rows = 5 articles, since rows come in article order) passes
    assert_no_leakage("chem-ner", splits)
