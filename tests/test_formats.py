"""Accepted formats → canonical rows, and every rejection reason (DESIGN.md data contracts)."""

import json

import pytest

from medtune import prompts
from medtune.data.formats import REASONS, RowError, endpoint_schema_errors, parser_for

NER_TEXT = "Patient has EGFR exon 19 deletion and stage IV NSCLC."
EGFR = {"start": 12, "end": 16, "label": "gene", "text": "EGFR"}
NSCLC = {"start": 47, "end": 52, "label": "disease", "text": "NSCLC"}


def parse(task, obj):
    return parser_for(task)(obj)


def test_reranker_label_is_matched_case_insensitively_after_stripping():
    row = parse("reranker", {"patient_text": "54-year-old woman.", "criterion": "Age 18 to 65", "label": " yes "}).row
    assert row["label"] == "Yes" and row["patient_text"] == "54-year-old woman."
    assert len(row["id"]) == 16 and row["group"].startswith("reranker:h")


def test_group_comes_from_an_explicit_field_when_present():
    row = parse("reranker", {"patient_text": "p", "criterion": "c", "label": "No", "patient_id": 7}).row
    assert row["group"] == "reranker:7"


def test_cot_chat_and_instruct_forms_give_the_same_canonical_messages():
    prompt = prompts.cot_messages("54-year-old woman with T2DM.", "Age 18 to 65 years")
    answer = prompts.cot_answer("The patient is 54.", "met")
    chat = parse("cot", {"messages": prompt + [{"role": "assistant", "content": answer}]}).row
    instruct = parse("cot", {"instruction": prompt[0]["content"], "input": prompt[1]["content"], "output": answer}).row
    assert chat["messages"] == instruct["messages"] and chat["label"] == "met" and chat["id"] == instruct["id"]
    # the group is the patient, recovered from the prompt when no explicit field exists
    other = parse("cot", {"messages": prompts.cot_messages("54-year-old woman with T2DM.", "HbA1c >= 7 %") + [{"role": "assistant", "content": answer}]}).row
    assert other["group"] == chat["group"]


def test_a_cot_patient_groups_the_same_in_either_prompt_layout():
    """The runtime prompt puts the criterion first; a dataset may put the patient first. Both split into the same
    (criterion, patient) and group by the patient alone, so one patient's rows never straddle the split."""
    patient, answer = "Smokes daily.\n\nLives alone.", prompts.cot_answer("Smokes.", "met")
    runtime = prompts.cot_messages(patient, "Current smoker")
    other = [runtime[0], {"role": "user", "content": f"Patient: {patient}\n\nCriterion: Age 18 or older"}]
    assert prompts.split_cot_user_turn(runtime[1]["content"]) == ("Current smoker", patient)
    assert prompts.split_cot_user_turn(other[1]["content"]) == ("Age 18 or older", patient)
    assert prompts.split_cot_user_turn("Is the patient eligible?") is None
    rows = [parse("cot", {"messages": m + [{"role": "assistant", "content": answer}]}).row for m in (runtime, other)]
    assert rows[0]["group"] == rows[1]["group"]


def test_cot_answer_in_another_schema_is_kept_with_a_null_label():
    row = parse("cot", {"messages": [{"role": "user", "content": "Is the patient eligible?"}, {"role": "assistant", "content": '{"Classification": "Included"}'}]}).row
    assert row["label"] is None


@pytest.mark.parametrize("obj", [
    {"text": NER_TEXT, "entities": {"gene": ["EGFR"], "disease": ["NSCLC"]}},
    {"text": NER_TEXT, "ner": [[12, 16, "gene"], [47, 52, "disease"]]},
    {"input": NER_TEXT, "output": {"entities": {"gene": ["EGFR"], "disease": ["NSCLC"]}}},
    {"text": NER_TEXT, "schema": {"entities": {"gene": ["EGFR"], "disease": ["NSCLC"]}, "json_structures": [{"biomarker": {"gene": "EGFR"}}],
                                  "json_descriptions": {"biomarker": {"gene": "Gene symbol"}}}},
    {"input": NER_TEXT, "output": {"entities": {"gene": [{"text": "EGFR", "start": 12, "end": 16}], "disease": ["NSCLC"]},
                                   "relations": [{"targets": {"head": "EGFR", "tail": "NSCLC"}}]}},
    {"text": NER_TEXT, "entities": {"GENE": ["EGFR"], "Disease ": ["NSCLC"]}, "structures": {"biomarker": {"gene": "EGFR"}}},
], ids=["entities", "ner-spans", "input-output", "schema", "relations", "structures-alias"])
def test_the_five_ner_formats_parse_into_the_same_canonical_spans(obj):
    row = parse("ner", obj).row
    assert row["text"] == NER_TEXT
    assert row["entities"] == [EGFR, NSCLC]


def test_ner_relations_and_structures_are_kept():
    row = parse("ner", {"input": NER_TEXT, "output": {"entities": {"gene": ["EGFR"]}, "relations": [{"targets": {"head": "EGFR", "tail": "NSCLC"}}]}}).row
    assert row["relations"] == [{"label": "targets", "head": "EGFR", "tail": "NSCLC"}]
    row = parse("ner", {"text": "Trial requires ECOG 0-1.", "structures": {"eligibility": {"performance_status": "ECOG 0-1"}}}).row
    assert row["structures"] == [{"eligibility": {"performance_status": "ECOG 0-1"}}] and row["entities"] == []


def test_ner_surface_marks_every_occurrence():
    row = parse("ner", {"text": "EGFR and EGFR", "entities": {"gene": ["EGFR"]}}).row
    assert [(e["start"], e["end"]) for e in row["entities"]] == [(0, 4), (9, 13)]


SEED_001_EXAMPLE = {"endpoints": [{
    "endpoint_name_standardized": "Number of participants achieving CR and PR", "measurement_of": "Objective Response Rate",
    "measurement_type": "binary", "metric_type": "count", "timeframe": "Through 4 months after starting treatment",
    "measurement_method": None, "evaluation_criteria": "IWG 2023 criteria", "unit": "number", "population": None,
    "is_composite": True, "components": ["CR", "PR"]}]}


def test_endpoint_schema_accepts_the_seed_example_and_rejects_wrong_enums_and_booleans():
    assert endpoint_schema_errors(SEED_001_EXAMPLE) == []
    bad_enum = json.loads(json.dumps(SEED_001_EXAMPLE))
    bad_enum["endpoints"][0]["measurement_type"] = "categorical"
    bad_bool = json.loads(json.dumps(SEED_001_EXAMPLE))
    bad_bool["endpoints"][0]["is_composite"] = "yes"
    assert any("measurement_type" in e for e in endpoint_schema_errors(bad_enum))
    assert any("is_composite" in e for e in endpoint_schema_errors(bad_bool))
    row = parse("endpoints", {"text": "Number of participants achieving CR and PR by 4 months", "output": json.dumps(SEED_001_EXAMPLE)}).row
    assert row["output"] == SEED_001_EXAMPLE


def test_qa_rows_get_the_safety_system_prompt():
    row = parse("qa", {"instruction": "What is asthma?", "response": "A chronic airway disease."}).row
    assert row["messages"][0] == {"role": "system", "content": prompts.QA_SAFETY_SYSTEM_PROMPT}
    assert row["messages"][-1] == {"role": "assistant", "content": "A chronic airway disease."}


def test_nli_labels():
    assert parse("nli", {"premise": "p", "hypothesis": "h", "label": "Contradiction"}).row["label"] == "contradiction"


REJECTIONS = [
    ("reranker", {"criterion": "c", "label": "Yes"}, "missing_field"),
    ("reranker", {"patient_text": 3, "criterion": "c", "label": "Yes"}, "bad_type"),
    ("reranker", {"patient_text": "  ", "criterion": "c", "label": "Yes"}, "empty_text"),
    ("reranker", {"patient_text": "p", "criterion": "c"}, "missing_label"),
    ("reranker", {"patient_text": "p", "criterion": "c", "label": "Maybe"}, "unknown_label"),
    ("nli", {"premise": "p", "hypothesis": "h", "label": 1}, "unknown_label"),
    ("cot", {"prompt": "x"}, "unknown_format"),
    ("cot", {"messages": [{"role": "user", "content": "q"}]}, "missing_label"),
    ("cot", {"messages": [{"role": "doctor", "content": "q"}, {"role": "assistant", "content": "a"}]}, "bad_type"),
    ("cot", {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": '{"verdict": "maybe"}'}]}, "unknown_label"),
    ("qa", {"instruction": "q", "response": ""}, "missing_label"),
    ("ner", {"text": "EGFR positive", "ner": [[0, 40, "gene"]]}, "span_out_of_range"),
    ("ner", {"text": "EGFR positive", "ner": [[0, 4, "gene", "KRAS"]]}, "span_text_mismatch"),
    ("ner", {"text": "EGFR positive", "entities": {"gene": ["KRAS"]}}, "span_text_mismatch"),
    ("ner", {"text": "EGFR positive", "entities": {"symptom": ["EGFR"]}}, "unknown_label"),
    ("ner", {"text": "EGFR positive"}, "missing_label"),
    ("ner", {"sentence": "EGFR positive"}, "unknown_format"),
    ("endpoints", {"text": "Body height", "output": {"endpoints": [{"measurement_type": "binary"}]}}, "schema_violation"),
    ("endpoints", {"text": "Body height"}, "missing_label"),
]


@pytest.mark.parametrize("task,obj,reason", REJECTIONS, ids=[f"{t}-{r}" for t, _, r in REJECTIONS])
def test_rejection_reasons(task, obj, reason):
    with pytest.raises(RowError) as info:
        parse(task, obj)
    assert info.value.reason == reason


def test_every_rejection_reason_is_covered_somewhere():
    covered = {r for _, _, r in REJECTIONS} | {"invalid_json", "not_an_object", "conflict"}  # the last three: test_clean.py
    assert covered == set(REASONS)
