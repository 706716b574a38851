"""Scoring rules of the two extraction tasks, on hand-checked cases: seed-001 JSON Schema validation, endpoint
matching, field accuracy and F1; chem-ner output parsing, seed-002 filters, per-task and macro F1, gazetteer."""

import json

import numpy as np
import pytest

from medtune.data.formats import endpoint_schema_errors
from medtune.evaluate import chem_ner as cn
from medtune.evaluate import endpoints as ep

# The three example outputs of seed 001, verbatim.
SEED_EXAMPLES = [
    {"endpoints": [{"endpoint_name_standardized": "Number of participants achieving CR and PR", "measurement_of": "Objective Response Rate",
                    "measurement_type": "binary", "metric_type": "count", "timeframe": "Through 4 months after starting treatment",
                    "measurement_method": None, "evaluation_criteria": "IWG 2023 criteria", "unit": "number", "population": None,
                    "is_composite": True, "components": ["CR", "PR"]}]},
    {"endpoints": [{"endpoint_name_standardized": "Integrated Biomarker Association with PFS",
                    "measurement_of": "prognostic association of integrated biomarkers with PFS", "measurement_type": "continuous",
                    "metric_type": "hazard ratio", "timeframe": "Up to 5 years",
                    "measurement_method": "Integrated biomarker analysis including PTEN immunohistochemistry, estrogen receptor and "
                                          "progesterone receptor, whole exome sequencing, ribonucleic acid sequencing",
                    "evaluation_criteria": "Proportional hazards models", "unit": None, "population": None, "is_composite": True,
                    "components": ["PTEN immunohistochemistry", "estrogen receptor", "progesterone receptor", "whole exome sequencing",
                                   "ribonucleic acid sequencing"]}]},
    {"endpoints": [{"endpoint_name_standardized": "Body height", "measurement_of": "height", "measurement_type": "continuous",
                    "metric_type": None, "timeframe": None, "measurement_method": "Stadiometer", "evaluation_criteria": None, "unit": "cm",
                    "population": None, "is_composite": False, "components": []}]},
]


def endpoint(name, **fields):
    base = {f: None for f in ep.FIELDS}
    base.update(endpoint_name_standardized=name, is_composite=False, components=[])
    base.update(fields)
    return base


# ---- schema ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("example", SEED_EXAMPLES, ids=["composite-count", "composite-biomarker", "minimal"])
def test_schema_accepts_the_seed_examples(example):
    assert endpoint_schema_errors(example) == []
    assert ep.parse_output(json.dumps(example)).schema_valid


@pytest.mark.parametrize("change, message", [
    ({"measurement_type": "categorical"}, "is not one of"),
    ({"measurement_type": "Binary"}, "is not one of"),
    ({"is_composite": "true"}, "is not of type 'boolean'"),
    ({"is_composite": 1}, "is not of type 'boolean'"),
    ({"components": "CR, PR"}, "is not of type 'array'"),
    ({"unit": 5}, "is not of type"),
    ({"extra_field": "x"}, "Additional properties"),
])
def test_schema_rejects_wrong_enums_booleans_and_types(change, message):
    output = json.loads(json.dumps(SEED_EXAMPLES[0]))
    output["endpoints"][0].update(change)
    errors = endpoint_schema_errors(output)
    assert errors and any(message in e for e in errors), errors
    parsed = ep.parse_output(json.dumps(output))
    assert parsed.json_valid and not parsed.schema_valid


def test_schema_rejects_a_missing_field_and_an_empty_list():
    output = json.loads(json.dumps(SEED_EXAMPLES[2]))
    del output["endpoints"][0]["unit"]
    assert any("'unit' is a required property" in e for e in endpoint_schema_errors(output))
    assert endpoint_schema_errors({"endpoints": []})


def test_parse_output_separates_json_validity_from_schema_validity():
    assert ep.parse_output('{"endpoints": [') == ep.ParsedOutput(False, False, [], None)
    fenced = ep.parse_output("```json\n" + json.dumps(SEED_EXAMPLES[2]) + "\n```")
    assert fenced.json_valid and fenced.schema_valid and len(fenced.endpoints) == 1
    other = ep.parse_output('{"result": 1}')
    assert other.json_valid and not other.schema_valid and other.endpoints == []


# ---- matching and scores ---------------------------------------------------------------------------------------


def test_name_similarity_is_token_jaccard_on_normalized_names():
    assert ep.name_similarity(endpoint("Overall Survival"), endpoint("overall  survival.")) == 1.0
    assert ep.name_similarity(endpoint("Overall Survival"), endpoint("Progression-Free Survival")) == pytest.approx(1 / 3)
    assert ep.name_similarity(endpoint(None), endpoint(None)) == 1.0
    assert ep.name_similarity(endpoint(None), endpoint("HbA1c")) == 0.0


def test_matching_is_one_to_one_and_globally_best():
    gold = [endpoint("Overall Survival"), endpoint("Progression-Free Survival")]
    # "Survival" is 1/2 similar to both gold names. Greedy in prediction order would give it "Overall Survival" and
    # leave "Overall Survival" only PFS (1/3, below the threshold): one match. The Hungarian assignment maximises
    # the total similarity: Survival -> PFS (1/2), Overall Survival -> Overall Survival (1): two matches.
    predicted = [endpoint("Survival"), endpoint("Overall Survival")]
    assert sorted(ep.match_endpoints(predicted, gold)) == [(0, 1), (1, 0)]
    # below the threshold nothing is matched, and each gold endpoint is used at most once
    assert ep.match_endpoints([endpoint("Body Weight")], gold) == []
    assert ep.match_endpoints([endpoint("Overall Survival"), endpoint("overall survival")], gold) == [(0, 0)] or \
        ep.match_endpoints([endpoint("Overall Survival"), endpoint("overall survival")], gold) == [(1, 0)]
    assert ep.match_endpoints([], gold) == [] and ep.match_endpoints(predicted, []) == []


def test_endpoint_scores_on_a_hand_checked_case():
    gold_rows = [
        {"output": {"endpoints": [endpoint("Overall Survival", measurement_type="time-to-event", timeframe="5 years", unit="months")]}},
        {"output": {"endpoints": [endpoint("HbA1c", measurement_type="continuous", unit="%"), endpoint("Body Weight", unit="kg")]}},
        {"output": {"endpoints": [endpoint("Body Height", unit="cm")]}},
    ]
    outputs = [
        # row 0: matched; timeframe differs only in case/punctuation (normalized right, exact wrong)
        json.dumps({"endpoints": [endpoint("overall survival", measurement_type="time-to-event", timeframe="5 Years.", unit="months")]}),
        # row 1: one of two gold endpoints, plus a spurious one; the matched one has a wrong unit
        json.dumps({"endpoints": [endpoint("HbA1c", measurement_type="continuous", unit="mmol/mol"), endpoint("Serious Adverse Events")]}),
        # row 2: invalid JSON
        '{"endpoints": [{"endpoint_name_standardized": "Body Height"',
    ]
    scores = ep.EndpointScores.from_outputs(outputs, gold_rows)
    assert scores.metric("json_validity") == pytest.approx(2 / 3)
    assert scores.metric("schema_validity") == pytest.approx(2 / 3)
    # tp = 2, predicted = 3, gold = 4
    assert scores.metric("endpoint_precision") == pytest.approx(2 / 3)
    assert scores.metric("endpoint_recall") == pytest.approx(2 / 4)
    assert scores.metric("endpoint_f1") == pytest.approx(2 * 2 / (3 + 4))
    # fields over 4 gold endpoints: row 0 is right on all 11 normalized, 9 exact (name casing, timeframe "5 Years.");
    # the HbA1c match is right on 10 (not the unit); Body Weight and Body Height are unmatched: 0
    assert scores.metric("field_timeframe_accuracy") == pytest.approx(2 / 4)  # row 0 normalized + HbA1c's null
    assert scores.metric("field_timeframe_exact") == pytest.approx(1 / 4)
    assert scores.metric("field_unit_accuracy") == pytest.approx(1 / 4)
    assert scores.metric("field_measurement_type_accuracy") == pytest.approx(2 / 4)
    exact_row0 = 11 - 2  # endpoint name casing and timeframe
    assert scores.metric("field_accuracy") == pytest.approx((11 + 10) / (4 * 11))
    assert scores.metric("field_accuracy_exact") == pytest.approx((exact_row0 + 10) / (4 * 11))
    # bootstrap on a subset: rows 2 alone scores nothing
    assert scores.metric("field_accuracy", np.array([2])) == 0.0


def test_normalized_comparison_of_lists_and_types():
    assert ep.values_equal(["PR", "CR"], ["cr", "pr"], normalized=True)
    assert not ep.values_equal(["PR", "CR"], ["CR", "PR"], normalized=False)
    assert not ep.values_equal(1, True, normalized=False) and not ep.values_equal(None, "null", normalized=True)


def test_most_frequent_endpoint_takes_each_fields_mode():
    rows = [{"output": {"endpoints": [endpoint("OS", unit="months"), endpoint("PFS", unit="months")]}},
            {"output": {"endpoints": [endpoint("OS", unit="%", is_composite=True, components=["a"])]}}]
    mode = ep.most_frequent_endpoint(rows)
    assert mode["endpoint_name_standardized"] == "OS" and mode["unit"] == "months" and mode["is_composite"] is False
    assert mode["components"] == [] and endpoint_schema_errors({"endpoints": [mode]}) == []


# ---- chem-ner ------------------------------------------------------------------------------------------------------

ARTICLE = ("BACKGROUND: The mechanisms of drug toxicity remain unclear. Cisplatin-induced nephrotoxicity was observed in 12 rats. "
           "Aspirin did not affect the incidence of asthma.")


def test_parse_items_reads_bullets_and_both_relation_forms():
    items, malformed = cn.parse_items("- cisplatin\n* Aspirin \n\n3. caffeine", "chemicals")
    assert items == ["cisplatin", "Aspirin", "caffeine"] and malformed == 0
    items, malformed = cn.parse_items("- Cisplatin | nephrotoxicity\n- chemical aspirin influences disease asthma\n- aspirin causes asthma", "influences")
    assert items == ["Cisplatin | nephrotoxicity", "aspirin | asthma"] and malformed == 1
    assert cn.normalize_item("Cisplatin |  Nephrotoxicity.", "influences") == "cisplatin | nephrotoxicity"


@pytest.mark.parametrize("item, task, reason", [
    ("drug", "chemicals", "blacklist"),
    ("toxicity", "diseases", "blacklist"),
    ("ab", "chemicals", "min_length"),
    ("ibuprofen", "chemicals", "not_grounded"),
    ("nephrotoxicity", "chemicals", "type_mismatch"),
    ("cisplatin | treatment", "influences", "blacklist"),
    ("cisplatin | hepatitis", "influences", "not_grounded"),
    ("nephrotoxicity | cisplatin", "influences", "type_mismatch"),  # sides swapped
    ("cisplatin", "chemicals", None),
    ("nephrotoxicity", "diseases", None),
    ("cisplatin | nephrotoxicity", "influences", None),
])
def test_filters(item, task, reason):
    from medtune.text import normalize

    assert cn.filter_reason(item, task, normalize(ARTICLE)) == reason


def test_extract_reports_before_and_after_filtering():
    rows = [{"task": "chemicals", "text": ARTICLE, "answers": ["cisplatin", "aspirin"]}]
    extraction = cn.extract(["- Cisplatin\n- drug\n- ibuprofen\n- aspirin"], rows)
    assert extraction.raw == [{"cisplatin", "drug", "ibuprofen", "aspirin"}]
    assert extraction.filtered == [{"cisplatin", "aspirin"}]
    assert extraction.dropped == {"blacklist": 1, "not_grounded": 1}


def test_per_task_and_macro_f1_on_a_hand_checked_case():
    rows = [
        {"task": "chemicals", "text": ARTICLE, "answers": ["cisplatin", "aspirin"]},
        {"task": "diseases", "text": ARTICLE, "answers": ["nephrotoxicity", "asthma"]},
        {"task": "influences", "text": ARTICLE, "answers": ["cisplatin | nephrotoxicity"]},
        {"task": "chemicals", "text": "Caffeine levels were measured.", "answers": ["caffeine"]},
    ]
    predicted = [{"cisplatin"}, {"nephrotoxicity", "asthma", "pain"}, {"cisplatin | nephrotoxicity", "aspirin | asthma"}, {"caffeine"}]
    counts = cn.TaskCounts.from_sets(rows, predicted)
    # chemicals: tp 2, fp 0, fn 1 -> P 1, R 2/3, F1 0.8; diseases: tp 2 fp 1 fn 0 -> F1 0.8; influences: tp 1 fp 1 -> F1 2/3
    assert counts.prf(0) == pytest.approx((1.0, 2 / 3, 0.8))
    assert counts.prf(1) == pytest.approx((2 / 3, 1.0, 0.8))
    assert counts.prf(2) == pytest.approx((0.5, 1.0, 2 / 3))
    assert counts.macro_f1() == pytest.approx((0.8 + 0.8 + 2 / 3) / 3)
    assert counts.micro_f1() == pytest.approx(2 * 5 / (2 * 5 + 2 + 1))
    # a resample without influences rows averages over the tasks it has
    assert counts.macro_f1(np.array([0, 1, 3])) == pytest.approx(0.8)
    scored = cn.score_counts(counts, "x_", "_unfiltered", resamples=50, seed=0)
    assert scored["x_macro_f1_unfiltered"] == pytest.approx(round((0.8 + 0.8 + 2 / 3) / 3, 4))
    assert scored["x_macro_f1_unfiltered_ci_low"] <= scored["x_macro_f1_unfiltered"] <= scored["x_macro_f1_unfiltered_ci_high"]


def test_gazetteer_finds_known_names_and_pairs_them_within_a_sentence():
    train = [
        {"task": "chemicals", "text": "", "answers": ["Cisplatin", "aspirin"]},
        {"task": "diseases", "text": "", "answers": ["nephrotoxicity", "asthma"]},
        {"task": "influences", "text": "", "answers": ["caffeine | insomnia"]},
    ]
    gazetteer = cn.build_gazetteer(train)
    assert gazetteer == {"chemicals": {"cisplatin", "aspirin", "caffeine"}, "diseases": {"nephrotoxicity", "asthma", "insomnia"}}
    assert cn.gazetteer_predict(gazetteer, {"task": "chemicals", "text": ARTICLE}) == {"cisplatin", "aspirin"}
    # the co-mention "aspirin ... asthma" is paired too: the weakness a model that reads the sentence avoids
    assert cn.gazetteer_predict(gazetteer, {"task": "influences", "text": ARTICLE}) == {"cisplatin | nephrotoxicity", "aspirin | asthma"}
    # whole words only: "aspirinate" is not aspirin
    assert cn.gazetteer_predict(gazetteer, {"task": "chemicals", "text": "Aspirinate was used."}) == set()
