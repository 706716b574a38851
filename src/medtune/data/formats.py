"""Accepted input formats per task → one canonical row (DESIGN.md "Data contracts").

`parse(task, obj)` returns a `Parsed` (canonical row + the strings that identify its input and its label)
or raises `RowError(reason, detail)`. It never guesses: a missing or unknown label, a span that is out of
range or does not match its surface, or a schema violation is an error the `clean` stage quarantines.

Canonical rows carry `id` (normalized input hash) and `group` (the unit kept inside one split: patient,
trial, document or premise); `group` comes from the row's own `group`/`patient_id`/`trial_id`/`doc_id`
field when present, else from the text that identifies the unit.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import yaml

from medtune import prompts
from medtune.text import hex_id, normalize, normalize_surface, normalized_hash

TASKS = ("cot", "reranker", "ner", "endpoints", "qa", "nli", "chem-ner")
GROUP_FIELDS = ("group", "patient_id", "trial_id", "doc_id", "document_id")
CONFIGS_DIR = Path(__file__).resolve().parents[3] / "configs"
DEFAULT_ENTITY_SCHEMA = CONFIGS_DIR / "entity_schema.yaml"
ENDPOINT_JSON_SCHEMA = Path(__file__).with_name("endpoint_schema.json")

# Every reason a row can be rejected with; tests cover each one.
REASONS = (
    "invalid_json",
    "not_an_object",
    "unknown_format",
    "missing_field",
    "bad_type",
    "empty_text",
    "missing_label",
    "unknown_label",
    "span_out_of_range",
    "span_text_mismatch",
    "schema_violation",
    "conflict",
)


class RowError(ValueError):
    def __init__(self, reason: str, detail: str = ""):
        assert reason in REASONS, reason
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(slots=True)
class Parsed:
    row: dict
    input_hash: int  # normalized hash of the task's input fields (dedupe, leakage); row["id"] is its hex
    label_key: str  # the label as a string; same input + different label_key = conflict


# ---- small shared checks ----------------------------------------------------------------------------------


def _text(obj: dict, key: str, required: bool = True) -> str | None:
    if key not in obj or obj[key] is None:
        if required:
            raise RowError("missing_field", key)
        return None
    value = obj[key]
    if not isinstance(value, str):
        raise RowError("bad_type", f"{key} must be a string, got {type(value).__name__}")
    if required and not value.strip():
        raise RowError("empty_text", key)
    return value


def _label(obj: dict, key: str, allowed: dict[str, str]) -> str:
    """Case-insensitive after stripping (`yes` → `Yes`); anything else is rejected, never defaulted."""
    value = obj.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise RowError("missing_label", key)
    if not isinstance(value, str):
        raise RowError("unknown_label", f"{key}={value!r}")
    canonical = allowed.get(value.strip().casefold())
    if canonical is None:
        raise RowError("unknown_label", f"{key}={value!r}; expected one of {sorted(set(allowed.values()))}")
    return canonical


def _group(obj: dict, task: str, fallback: str) -> str:
    for key in GROUP_FIELDS:
        value = obj.get(key)
        if isinstance(value, (str, int)) and str(value).strip():
            return f"{task}:{value}"
    return f"{task}:h{hex_id(normalized_hash(fallback))}"


def _finish(task: str, obj: dict, row: dict, input_key: tuple[str, ...], label_key: str, group_text: str) -> Parsed:
    input_hash = normalized_hash(*input_key)
    row = {"id": hex_id(input_hash), "group": _group(obj, task, group_text), **row}
    meta = obj.get("meta")
    if isinstance(meta, dict):
        row["meta"] = meta
    return Parsed(row, input_hash, label_key)


# ---- reranker ------------------------------------------------------------------------------------------------
_RERANKER_LABELS = {label.casefold(): label for label in prompts.RERANKER_LABELS}


def parse_reranker(obj: dict) -> Parsed:
    patient, criterion = _text(obj, "patient_text"), _text(obj, "criterion")
    label = _label(obj, "label", _RERANKER_LABELS)
    row = {"patient_text": patient, "criterion": criterion, "label": label}
    return _finish("reranker", obj, row, (patient, criterion), label, patient)


# ---- chain-of-thought -------------------------------------------------------------------------------------------
_ROLES = {"system", "user", "assistant"}
_PATIENT_SECTION = re.compile(r"Patient:\s*(.*)\Z", re.DOTALL)


def _messages(value: Any) -> list[dict]:
    if not isinstance(value, list) or not value:
        raise RowError("bad_type", "messages must be a non-empty list")
    out = []
    for i, message in enumerate(value):
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            raise RowError("bad_type", f"messages[{i}] must be an object with a string content")
        if message.get("role") not in _ROLES:
            raise RowError("bad_type", f"messages[{i}].role={message.get('role')!r}; expected one of {sorted(_ROLES)}")
        out.append({"role": message["role"], "content": message["content"]})
    return out


def _split_answer(messages: list[dict]) -> tuple[list[dict], str]:
    """Prompt turns and the final assistant answer (the training target)."""
    if messages[-1]["role"] != "assistant" or not messages[-1]["content"].strip():
        raise RowError("missing_label", "the last message must be a non-empty assistant answer")
    prompt = messages[:-1]
    if not any(m["role"] == "user" and m["content"].strip() for m in prompt):
        raise RowError("empty_text", "no user message")
    return prompt, messages[-1]["content"]


def parse_cot(obj: dict) -> Parsed:
    if "messages" in obj:
        messages = _messages(obj["messages"])
    elif "instruction" in obj or "output" in obj:
        # Instruct form: instruction = system turn when an input follows, else the user turn.
        instruction, input_text = _text(obj, "instruction"), _text(obj, "input", required=False)
        output = _text(obj, "output", required=False)
        if not output or not output.strip():
            raise RowError("missing_label", "output")
        messages = (
            [{"role": "system", "content": instruction}, {"role": "user", "content": input_text}]
            if input_text and input_text.strip()
            else [{"role": "user", "content": instruction}]
        ) + [{"role": "assistant", "content": output}]
    else:
        raise RowError("unknown_format", "expected 'messages' or 'instruction'/'input'/'output'")
    prompt, answer = _split_answer(messages)
    verdict = _cot_verdict(answer)
    row = {"messages": messages, "label": verdict}
    return _finish("cot", obj, row, tuple(m["content"] for m in prompt), verdict or normalize(answer), _cot_patient(prompt))


def _cot_patient(prompt: list[dict]) -> str:
    """The patient text of the last user turn, which groups a patient's rows into one split (no leakage):
    the runtime layout in either order, else whatever follows a final "Patient:", else the whole turn."""
    user = next(m["content"] for m in reversed(prompt) if m["role"] == "user")
    parts = prompts.split_cot_user_turn(user)
    if parts:
        return parts[1]
    patient = _PATIENT_SECTION.search(user)
    return patient.group(1) if patient else user


def _cot_verdict(answer: str) -> str | None:
    """Our verdict when the answer carries one; an answer with a `verdict` we do not know is rejected.
    Answers in another schema (real data) keep label None and are trained on as they are."""
    verdict = prompts.parse_cot_verdict(answer)
    if verdict is None:
        try:
            parsed = json.loads(answer)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict) and "verdict" in parsed:
            raise RowError("unknown_label", f"verdict={parsed['verdict']!r}; expected one of {list(prompts.COT_VERDICTS)}")
    return verdict


# ---- qa ---------------------------------------------------------------------------------------------------------------


def parse_qa(obj: dict) -> Parsed:
    instruction = _text(obj, "instruction")
    input_text = _text(obj, "input", required=False) or None
    response = obj.get("response")
    if response is None or (isinstance(response, str) and not response.strip()):
        raise RowError("missing_label", "response")
    if not isinstance(response, str):
        raise RowError("bad_type", "response must be a string")
    messages = prompts.qa_messages(instruction, input_text) + [{"role": "assistant", "content": response}]
    row = {"messages": messages, "instruction": instruction, "response": response}
    if input_text:
        row["input"] = input_text
    key = (instruction, input_text or "")
    return _finish("qa", obj, row, key, normalize(response), instruction)


# ---- nli ----------------------------------------------------------------------------------------------------------------
NLI_LABELS = ("entailment", "neutral", "contradiction")
_NLI_LABELS = {label: label for label in NLI_LABELS}


def parse_nli(obj: dict) -> Parsed:
    premise, hypothesis = _text(obj, "premise"), _text(obj, "hypothesis")
    label = _label(obj, "label", _NLI_LABELS)
    row = {"premise": premise, "hypothesis": hypothesis, "label": label}
    return _finish("nli", obj, row, (premise, hypothesis), label, premise)


# ---- endpoints (seed 001 schema) ----------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def endpoint_validator():
    import jsonschema  # imported lazily: only the endpoints task needs it

    schema = json.loads(ENDPOINT_JSON_SCHEMA.read_text())
    return jsonschema.Draft202012Validator(schema)


def endpoint_schema_errors(output: Any) -> list[str]:
    """Human-readable schema violations of one endpoints object (empty list = valid)."""
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in sorted(endpoint_validator().iter_errors(output), key=lambda e: list(map(str, e.absolute_path)))
    ]


def parse_endpoints(obj: dict) -> Parsed:
    text = _text(obj, "text") if "text" in obj else _text(obj, "input")
    output = obj.get("output")
    if output is None:
        raise RowError("missing_label", "output")
    if isinstance(output, str):  # some exports store the target JSON as a string
        try:
            output = json.loads(output)
        except json.JSONDecodeError as exc:
            raise RowError("schema_violation", f"output is not JSON ({exc.msg})") from exc
    errors = endpoint_schema_errors(output)
    if errors:
        raise RowError("schema_violation", "; ".join(errors[:3]))
    row = {"text": text, "output": output}
    return _finish("endpoints", obj, row, (text,), json.dumps(output, sort_keys=True), text)


# ---- ner: the five GLiNER2 formats of seed 000 ------------------------------------------------------------------------


@lru_cache(maxsize=8)
def entity_schema(path: str | None = None) -> dict[str, str]:
    """label → description from the entity schema YAML (`entities:` mapping)."""
    schema_path = Path(path) if path else DEFAULT_ENTITY_SCHEMA
    data = yaml.safe_load(schema_path.read_text()) or {}
    entities = data.get("entities")
    if not isinstance(entities, dict) or not entities:
        raise ValueError(f"{schema_path}: expected a non-empty 'entities:' mapping of label → description")
    return {str(k): str(v) for k, v in entities.items()}


def _ner_label(raw: Any, allowed: dict[str, str] | None) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise RowError("missing_label", "entity label")
    if allowed is None:
        return raw.strip()
    label = allowed.get(raw.strip().casefold())
    if label is None:
        raise RowError("unknown_label", f"entity label {raw!r}; expected one of {sorted(allowed.values())}")
    return label


def _find_all(text: str, surface: str) -> list[tuple[int, int]]:
    spans, start = [], text.find(surface)
    while start != -1:
        spans.append((start, start + len(surface)))
        start = text.find(surface, start + len(surface))
    return spans


def _mentions(text: str, label: str, mentions: Any) -> list[dict]:
    """Entity mentions given as surfaces (all occurrences are marked) or as {text, start, end}."""
    if not isinstance(mentions, list):
        raise RowError("bad_type", f"entities[{label!r}] must be a list")
    out = []
    for mention in mentions:
        if isinstance(mention, str):
            if not mention.strip():
                raise RowError("empty_text", f"empty mention for {label!r}")
            spans = _find_all(text, mention)
            if not spans:
                raise RowError("span_text_mismatch", f"{mention!r} ({label}) does not occur in the text")
            out += [{"start": s, "end": e, "label": label, "text": mention} for s, e in spans]
        elif isinstance(mention, dict) and {"start", "end"} <= set(mention):
            out.append(_span(text, mention.get("start"), mention.get("end"), label, mention.get("text")))
        else:
            raise RowError("bad_type", f"mention {mention!r} for {label!r}")
    return out


def _span(text: str, start: Any, end: Any, label: str, surface: Any = None) -> dict:
    if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool) or isinstance(end, bool):
        raise RowError("bad_type", f"span offsets must be integers, got {start!r}, {end!r}")
    if not 0 <= start < end <= len(text):
        raise RowError("span_out_of_range", f"[{start}, {end}) outside text of length {len(text)}")
    if surface is not None and text[start:end] != surface:
        raise RowError("span_text_mismatch", f"text[{start}:{end}]={text[start:end]!r} != {surface!r}")
    return {"start": start, "end": end, "label": label, "text": text[start:end]}


def _relations(value: Any, text: str) -> list[dict]:
    """GLiNER2 relations: [{"<relation>": {"head": surface, "tail": surface}}]."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise RowError("bad_type", "relations must be a list")
    out = []
    for item in value:
        if not isinstance(item, dict) or len(item) != 1:
            raise RowError("bad_type", f"relation {item!r}: expected {{name: {{head, tail}}}}")
        (name, ends), = item.items()
        if not isinstance(ends, dict) or not isinstance(ends.get("head"), str) or not isinstance(ends.get("tail"), str):
            raise RowError("bad_type", f"relation {name!r} needs string head and tail")
        for end in ("head", "tail"):
            if ends[end] not in text:
                raise RowError("span_text_mismatch", f"relation {name!r} {end} {ends[end]!r} does not occur in the text")
        out.append({"label": name, "head": ends["head"], "tail": ends["tail"]})
    return out


def _structures(value: Any, text: str) -> list[dict]:
    """GLiNER2 json_structures: [{name: {field: value}}]. Extraction can only return text from the input, so a
    field value (a string, a list of strings or a {text, start, end} span; choice fields excepted) must occur
    in the text, case-insensitively as GLiNER2's own validator checks — its trainer would otherwise drop it
    with a printed warning."""
    if value is None:
        return []
    items = [value] if isinstance(value, dict) else value
    if not isinstance(items, list) or not all(isinstance(s, dict) for s in items):
        raise RowError("bad_type", "json_structures/structures must be an object or a list of objects")
    lowered = text.lower()
    for item in items:
        for name, fields in item.items():
            if not isinstance(fields, dict):
                raise RowError("bad_type", f"structure {name!r} must map field -> value")
            for field_name, field_value in fields.items():
                if isinstance(field_value, dict) and {"value", "choices"} <= set(field_value):
                    continue
                values = field_value if isinstance(field_value, list) else [field_value]
                for v in values:
                    surface = v.get("text") if isinstance(v, dict) else v
                    if surface is not None and (not isinstance(surface, str) or surface.lower() not in lowered):
                        raise RowError("span_text_mismatch", f"structure {name}.{field_name} value {surface!r} does not occur in the text")
    return items


def parse_ner(obj: dict, allowed: dict[str, str] | None = None) -> Parsed:
    """The five seed-000 formats: `entities` dict, `ner` char spans, `input`/`output`, `schema`,
    `relations`/`structures` (the `structures` alias of `json_structures`)."""
    if "input" in obj and "output" in obj:
        text, payload = _text(obj, "input"), obj["output"]
        if not isinstance(payload, dict):
            raise RowError("bad_type", "output must be an object")
    elif "text" in obj:
        text = _text(obj, "text")
        payload = obj.get("schema", obj)
        if not isinstance(payload, dict):
            raise RowError("bad_type", "schema must be an object")
    else:
        raise RowError("unknown_format", "expected 'text' (+ entities/ner/schema/structures) or 'input'/'output'")
    known = {"entities", "ner", "relations", "json_structures", "structures", "json_descriptions", "entity_descriptions"}
    if not known & set(payload):
        raise RowError("missing_label", "no entities, ner spans, relations or structures")

    entities: list[dict] = []
    raw_entities = payload.get("entities")
    if raw_entities is not None:
        if not isinstance(raw_entities, dict):
            raise RowError("bad_type", "entities must map label → mentions")
        for raw_label, mentions in raw_entities.items():
            entities += _mentions(text, _ner_label(raw_label, allowed), mentions)
    for span in payload.get("ner") or []:
        if not isinstance(span, (list, tuple)) or len(span) not in (3, 4):
            raise RowError("bad_type", f"ner span {span!r}: expected [start, end, label]")
        entities.append(_span(text, span[0], span[1], _ner_label(span[2], allowed), span[3] if len(span) == 4 else None))
    entities = sorted({(e["start"], e["end"], e["label"]): e for e in entities}.values(), key=lambda e: (e["start"], e["end"], e["label"]))

    descriptions = payload.get("entity_descriptions") or {}
    row = {
        "text": text,
        "entities": entities,
        "relations": _relations(payload.get("relations"), text),
        "structures": _structures(payload.get("json_structures", payload.get("structures")), text),
        "descriptions": descriptions if isinstance(descriptions, dict) else {},
    }
    if payload.get("json_descriptions"):
        row["structure_descriptions"] = payload["json_descriptions"]
    label_key = json.dumps([[e["start"], e["end"], e["label"]] for e in entities] + [row["relations"], row["structures"]], sort_keys=True)
    return _finish("ner", obj, row, (text,), label_key, text)


# ---- chem-ner: chemical / disease / relation lists (seed 002) -------------------------------------------------------
# Task names the rows may use → the canonical ones (prompts.CHEM_NER_TASKS).
_CHEM_NER_TASKS = {
    **{t: t for t in prompts.CHEM_NER_TASKS},
    "chemical": "chemicals", "disease": "diseases", "influence": "influences", "relations": "influences", "relation": "influences",
}
_SEED_INSTRUCTION = re.compile(r"Create a list only of the (chemicals|diseases|influences)\b[^\n]*", re.IGNORECASE)
_SEED_LIST_END = re.compile(r"\n\s*List of extracted [^\n]*:\s*\Z", re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s*")
_SENTENCE_RELATION = re.compile(r"^chemical\s+(.+?)\s+influences\s+disease\s+(.+?)$", re.IGNORECASE)


def chem_ner_relation(item: Any) -> str:
    """One relation as "chemical | disease": the seed's raw sentence form "chemical X influences disease Y",
    the pipe form, a [chemical, disease] pair or a {"chemical", "disease"} object. Anything else is an error."""
    if isinstance(item, dict) and isinstance(item.get("chemical"), str) and isinstance(item.get("disease"), str):
        parts = [item["chemical"], item["disease"]]
    elif isinstance(item, (list, tuple)) and len(item) == 2 and all(isinstance(p, str) for p in item):
        parts = list(item)
    elif isinstance(item, str):
        sentence = _SENTENCE_RELATION.match(" ".join(item.split()))
        parts = list(sentence.groups()) if sentence else item.split("|")
    else:
        raise RowError("bad_type", f"relation {item!r}: expected 'chemical | disease' or 'chemical X influences disease Y'")
    parts = [" ".join(p.split()) for p in parts]
    if len(parts) != 2 or not all(parts):
        raise RowError("bad_type", f"relation {item!r}: expected 'chemical | disease' or 'chemical X influences disease Y'")
    return f"{parts[0]} | {parts[1]}"


def chem_ner_answers(task: str, items: list) -> list[str]:
    """Answer strings with whitespace collapsed and bullets stripped, relations as "chemical | disease", duplicates
    (after `normalize_surface`) dropped; the first surface is kept, so the model learns verbatim extraction."""
    out: dict[str, str] = {}
    for item in items:
        if isinstance(item, str):
            item = _BULLET.sub("", item)
            if not item.strip():
                continue
        if task == "influences":
            answer = chem_ner_relation(item)
        elif isinstance(item, str):
            answer = " ".join(item.split())
        else:
            raise RowError("bad_type", f"{task} answer {item!r} must be a string")
        out.setdefault(normalize_surface(answer), answer)
    return list(out.values())


def _seed_prompt(prompt: str) -> tuple[str, str]:
    """(task, article) from a seed-002 prompt: instruction, blank line, article, optional 'List of extracted …:'."""
    match = _SEED_INSTRUCTION.search(prompt)
    if not match:
        raise RowError("unknown_label", "prompt does not ask for a list of chemicals, diseases or influences")
    article = _SEED_LIST_END.sub("", prompt[match.end():]).strip()
    if not article:
        raise RowError("empty_text", "prompt has no article after the instruction")
    return match.group(1).lower(), article


def parse_chem_ner(obj: dict) -> Parsed:
    """Seed-002 rows: `{"prompt", "completion"}` (bullet list; relations as "X | Y" or the raw sentence form) or
    `{"task", "text", "entities" | "relations" | "answers"}`. Canonical: `{"task", "text", "answers"}`."""
    if "prompt" in obj:
        task, text = _seed_prompt(_text(obj, "prompt"))
        completion = obj.get("completion")
        if completion is None or (isinstance(completion, str) and not completion.strip()):
            raise RowError("missing_label", "completion")
        if not isinstance(completion, str):
            raise RowError("bad_type", "completion must be a string")
        items: Any = completion.splitlines()
    elif "task" in obj:
        task = _label(obj, "task", _CHEM_NER_TASKS)
        text = _text(obj, "text")
        key = next((k for k in ("relations", "entities", "answers") if k in obj), None)
        if key is None or obj[key] is None:
            raise RowError("missing_label", "entities / relations / answers")
        items = obj[key]
        if not isinstance(items, list):
            raise RowError("bad_type", f"{key} must be a list")
    else:
        raise RowError("unknown_format", "expected 'prompt'/'completion' or 'task'/'text'/'entities|relations'")
    answers = chem_ner_answers(task, items)
    if not answers:
        raise RowError("missing_label", f"no {task} listed (empty completion)")
    row = {"task": task, "text": text, "answers": answers}
    label = json.dumps(sorted(normalize_surface(a) for a in answers))
    # group fallback = the article, so the three task rows of one article stay in one split
    return _finish("chem-ner", obj, row, (task, text), label, text)


PARSERS: dict[str, Callable[[dict], Parsed]] = {
    "cot": parse_cot,
    "reranker": parse_reranker,
    "ner": parse_ner,
    "endpoints": parse_endpoints,
    "qa": parse_qa,
    "nli": parse_nli,
    "chem-ner": parse_chem_ner,
}


def parser_for(task: str, entity_schema_path: str | None = None) -> Callable[[dict], Parsed]:
    if task not in PARSERS:
        raise ValueError(f"unknown task {task!r}; expected one of {sorted(PARSERS)}")
    if task == "ner":
        allowed = {label.casefold(): label for label in entity_schema(entity_schema_path)}
        return lambda obj: parse_ner(obj, allowed)
    return PARSERS[task]
