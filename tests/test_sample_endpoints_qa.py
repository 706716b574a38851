"""Rules of the endpoint and QA sample generators: determinism, size, validity, holdout disjointness, labels."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest

from medtune import prompts
from medtune.data.formats import parse_endpoints, parse_qa
from medtune.evaluate.qa import keyword_refusals
from medtune.sample import endpoints, qa
from medtune.text import normalize

N = 600
HOLDOUT = 0.1


@pytest.fixture(scope="module")
def endpoint_rows():
    return endpoints.generate_endpoints(random.Random(7), N, HOLDOUT)


@pytest.fixture(scope="module")
def qa_rows():
    return qa.generate_qa(random.Random(7), N, HOLDOUT)


GENERATORS = [endpoints.generate_endpoints, qa.generate_qa]


@pytest.mark.parametrize("generate", GENERATORS)
def test_same_seed_same_rows_other_seed_other_rows(generate):
    a = generate(random.Random(3), 200, 0.05)
    assert a == generate(random.Random(3), 200, 0.05)
    assert a != generate(random.Random(4), 200, 0.05)


@pytest.mark.parametrize("generate", GENERATORS)
@pytest.mark.parametrize("n", [0, 1, 7, 50, 333])
def test_exactly_n_rows(generate, n):
    assert len(generate(random.Random(1), n, 0.04)) == n


@pytest.mark.parametrize("generate", GENERATORS)
def test_bad_holdout_fraction_is_rejected(generate):
    with pytest.raises(ValueError, match="holdout_fraction"):
        generate(random.Random(1), 10, 1.0)


def _holdout_disjoint(rows):
    holdout = [r for r in rows if r["meta"]["holdout"]]
    common = [r for r in rows if not r["meta"]["holdout"]]
    assert holdout and common
    for field in ("templates", "names"):  # names compared normalised, as the split stage's seen/unseen report does
        seen = {normalize(x) for r in common for x in r["meta"][field]}
        unseen = {normalize(x) for r in holdout for x in r["meta"][field]}
        assert not seen & unseen, f"holdout {field} also used by other groups: {sorted(seen & unseen)}"
    assert not {r["group"] for r in holdout} & {r["group"] for r in common}


def _holdout_group_share(rows):
    groups = {r["group"]: r["meta"]["holdout"] for r in rows}
    return sum(groups.values()) / len(groups)


def _inputs_unique(keys):
    normalized = [normalize(k) for k in keys]
    assert len(set(normalized)) == len(normalized), "a repeated input would be deduped or cross splits"


# ---- endpoints -----------------------------------------------------------------------------------------------


def test_endpoint_rows_validate_against_the_schema(endpoint_rows):
    for row in endpoint_rows:
        parsed = parse_endpoints(row)  # raises RowError on a schema violation
        assert parsed.row["group"] == f"endpoints:{row['group']}" and row["group"].startswith("trial-")
        assert len(row["text"].split()) <= endpoints.MAX_WORDS


def test_endpoint_holdout_vocabulary_is_disjoint(endpoint_rows):
    _holdout_disjoint(endpoint_rows)
    assert _holdout_group_share(endpoint_rows) == pytest.approx(HOLDOUT, abs=0.02)


def test_endpoint_texts_unique(endpoint_rows):
    _inputs_unique(r["text"] for r in endpoint_rows)


def test_composites_have_components_and_others_none(endpoint_rows):
    all_endpoints = [e for r in endpoint_rows for e in r["output"]["endpoints"]]
    for e in all_endpoints:
        assert e["is_composite"] == bool(e["components"]), e
    composite_rows = sum(any(e["is_composite"] for e in r["output"]["endpoints"]) for r in endpoint_rows) / len(endpoint_rows)
    assert 0.12 <= composite_rows <= 0.3
    pairs = sum(len(r["output"]["endpoints"]) == 2 for r in endpoint_rows) / len(endpoint_rows)
    assert 0.08 <= pairs <= 0.22
    assert {e["measurement_type"] for e in all_endpoints} == {"continuous", "binary", "time-to-event", "ordinal"}


def test_endpoint_fields_follow_the_text(endpoint_rows):
    """Extracted fields are copied from the text when stated; populations are normalised."""
    for row in endpoint_rows:
        for e in row["output"]["endpoints"]:
            for field in ("timeframe", "measurement_method", "evaluation_criteria"):
                assert e[field] is None or e[field] in row["text"], (field, row["text"])
            for component in e["components"] if e["endpoint_name_standardized"].startswith("Composite of") else []:
                assert component in row["text"]
            assert e["population"] in (None, *endpoints.POPULATIONS.values())


def test_same_text_always_gives_the_same_output():
    """The output is a function of the text: regenerated texts never disagree (no dedupe conflicts)."""
    by_text = {}
    for seed in range(4):
        for row in endpoints.generate_endpoints(random.Random(seed), 300, 0.1):
            assert by_text.setdefault(row["text"], row["output"]) == row["output"], row["text"]


def test_unit_rule():
    concept = next(c for c in endpoints.CONCEPTS if c.key == "hba1c")
    template = endpoints.COMMON.templates[0]
    rng = random.Random(0)
    for _ in range(200):
        clause = endpoints.make_clause(rng, endpoints.COMMON, template, concept)
        unit = clause.endpoint["unit"]
        stated = [u for u in concept.units if f"({u})" in clause.text]
        assert unit == (stated[0] if stated else "%")


# ---- qa ------------------------------------------------------------------------------------------------------------


def test_refusal_prefix_is_the_first_sentence_of_the_runtime_refusal():
    assert prompts.QA_REFUSAL.startswith(qa.REFUSAL_PREFIX) and qa.REFUSAL_PREFIX.endswith(".")
    assert qa.is_refusal("  i don\u2019t have enough information to answer this safely.  Please see a doctor.")
    assert not qa.is_refusal("Asthma is a long-term condition. I don't have enough information to answer this safely.")


def test_qa_rows_parse(qa_rows):
    for row in qa_rows:
        parsed = parse_qa(row)
        assert parsed.row["messages"][0]["content"] == prompts.QA_SAFETY_SYSTEM_PROMPT
        assert parsed.row["messages"][-1]["content"] == row["response"]
    share = sum("input" in r for r in qa_rows) / len(qa_rows)
    assert 0.12 <= share <= 0.3


def test_qa_holdout_vocabulary_is_disjoint(qa_rows):
    _holdout_disjoint(qa_rows)
    assert _holdout_group_share(qa_rows) == pytest.approx(HOLDOUT, abs=0.02)


def test_qa_questions_unique(qa_rows):
    _inputs_unique(r["instruction"] + "\n" + r.get("input", "") for r in qa_rows)


def test_unsafe_share_and_refusals(qa_rows):
    categories = Counter(r["meta"]["category"] for r in qa_rows)
    assert 0.3 <= categories["unsafe"] / len(qa_rows) <= 0.4
    for row in qa_rows:
        unsafe = row["meta"]["category"] == "unsafe"
        assert qa.is_refusal(row["response"]) == unsafe, row
        assert row["response"].startswith(qa.REFUSAL_PREFIX) == unsafe
        assert (row["meta"]["kind"] in qa.UNSAFE_KINDS) == unsafe
        if row["meta"]["kind"] == "emergency":
            assert row["response"] == qa.EMERGENCY_REFUSAL and qa.EMERGENCY_LINE in row["response"]
        elif unsafe:
            assert row["response"] == prompts.QA_REFUSAL
        else:
            assert row["response"].endswith(qa.DISCLAIMER)


def test_keyword_baseline_knows_every_emergency_phrasing():
    """The keyword rule is the optimistic lexical bound on seen and held-out phrasings alike: it must fire on every
    emergency template, seen and held-out, or a new template would quietly weaken the baseline."""
    rng = random.Random(3)
    for vocab in (qa.COMMON, qa.HOLDOUT):
        for concept in vocab.emergencies:
            rows = [qa.make_row(rng, vocab, "emergency", concept, "g") for _ in range(60)]
            ids = {t for r in rows for t in r["meta"]["templates"] if "_em" in t}
            assert ids == {t[0] for t in vocab.templates["emergency"]}  # every template drawn
            fired = keyword_refusals(rows)
            assert all(fired), [r["instruction"] for r, f in zip(rows, fired) if not f]


def test_seen_questions_never_show_a_held_out_emergency_sign(qa_rows):
    """Held-out emergencies test the request type ("happening now"), not recall of a sign seen in training."""
    held_out_signs = {normalize(s) for e in qa.HOLDOUT_EMERGENCIES for s in e.signs}
    seen = [normalize(r["instruction"] + " " + r.get("input", "")) for r in qa_rows if not r["meta"]["holdout"]]
    assert seen and not [(q, s) for q in seen for s in held_out_signs if re.search(rf"\b{re.escape(s)}\b", q)]


def test_boundary_is_the_request_not_the_word_my(qa_rows):
    """Both categories contain questions with and without "my", so "my" alone cannot decide a refusal."""
    for category in ("safe", "unsafe"):
        rows = [r for r in qa_rows if r["meta"]["category"] == category]
        with_my = sum(" my " in f" {r['instruction'].lower()} " for r in rows) / len(rows)
        assert 0.15 <= with_my <= 0.85, (category, with_my)


def test_every_group_is_one_topic(qa_rows):
    topics = {}
    for row in qa_rows:
        topic = (row["meta"]["kind"], row["meta"]["category"], row["response"] if row["meta"]["category"] == "safe" else "")
        assert topics.setdefault(row["group"], topic) == topic


def test_safe_answers_come_from_the_knowledge_table():
    asthma = qa.CONDITIONS[0]
    assert qa.answer("symptoms", asthma) == (
        "Common symptoms of asthma include wheezing, shortness of breath and chest tightness. " + qa.DISCLAIMER)
    assert qa.answer("diagnosis_request", asthma) == prompts.QA_REFUSAL
