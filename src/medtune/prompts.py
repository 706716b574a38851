"""The exact runtime prompts, shared by data generation, training, scoring and serving.

Seed 000: "Training prompts reuse the exact runtime prompts, so a fine-tuned model sees the same format at
train and inference time." Every code path that talks to a model builds its messages here.
"""

from __future__ import annotations

import json
import re

Message = dict[str, str]

# ---- reranker -------------------------------------------------------------------------------------------
RERANKER_LABELS = ("Yes", "No")
RERANKER_QUESTION = "Does the patient text contain enough information to evaluate the criterion? Answer Yes or No."


def reranker_messages(patient_text: str, criterion: str) -> list[Message]:
    """One user turn (no system turn: Gemma's template rejects one). The criterion comes after the patient text:
    a causal LM reading the criterion can then look back for its subject in the note, the order of the base's
    probe documents ("Text: <note> / Mentioned? / <term>: Yes"); the answer reads that off (README, "The tiny base").
    An over-long row is cut inside the patient text only (train/tasks.reranker_example), never the question or
    the criterion."""
    return [{"role": "user", "content": f"{RERANKER_QUESTION}\n\nPatient: {patient_text}\n\nCriterion: {criterion}"}]


# ---- chain-of-thought eligibility -----------------------------------------------------------------------
COT_VERDICTS = ("met", "not_met", "unknown")
COT_SYSTEM_PROMPT = (
    "You are a clinical trial eligibility assistant. Decide whether the patient meets the criterion. "
    "Reason step by step from the patient text only, then answer with JSON: "
    '{"reasoning": "...", "verdict": "met" | "not_met" | "unknown"}.'
)
# The answer format above as a JSON schema and the separators `cot_answer` writes (json.dumps's default), for
# constrained decoding (`eval.cot.constrained`). Property order is the training answers' order: xgrammar keeps it,
# so a constrained answer has exactly the layout the adapter learnt.
COT_ANSWER_SEPARATORS = (", ", ": ")
COT_ANSWER_SCHEMA = {
    "type": "object",
    "properties": {"reasoning": {"type": "string"}, "verdict": {"type": "string", "enum": list(COT_VERDICTS)}},
    "required": ["reasoning", "verdict"],
    "additionalProperties": False,
}


def cot_messages(patient_text: str, criterion: str) -> list[Message]:
    """The criterion comes first here, unlike `reranker_messages`: on the val split the patient-first order gave the
    cot adapter no gain (0.575 -> 0.550; README, "What did not move cot"), because its answer restates the criterion
    after the note either way. The patient text comes last, so an over-long row is cut there."""
    return [
        {"role": "system", "content": COT_SYSTEM_PROMPT},
        {"role": "user", "content": f"Criterion: {criterion}\n\nPatient: {patient_text}"},
    ]


# The runtime layout, and the patient-first one (real datasets differ; `reranker_messages` uses it).
_COT_USER_TURNS = (
    re.compile(r"^Criterion: (?P<criterion>.*?)\n\nPatient: (?P<patient>.*)$", re.DOTALL),
    re.compile(r"^Patient: (?P<patient>.*)\n\nCriterion: (?P<criterion>.*?)$", re.DOTALL),
)


def split_cot_user_turn(content: str) -> tuple[str, str] | None:
    """(criterion, patient text) of a cot user turn in either layout, else None (a row in another format).

    Training, evaluation and `clean`'s patient grouping all read rows through this one parser: a row in the other
    layout is trained and scored on the runtime prompt, and grouped by its patient text alone (a group that took in
    the criterion would split one patient's rows across train and test)."""
    for layout in _COT_USER_TURNS:
        match = layout.match(content)
        if match:
            return match["criterion"], match["patient"]
    return None


def cot_answer(reasoning: str, verdict: str) -> str:
    if verdict not in COT_VERDICTS:
        raise ValueError(f"unknown verdict {verdict!r}; expected one of {COT_VERDICTS}")
    return json.dumps({"reasoning": reasoning, "verdict": verdict}, ensure_ascii=False, separators=COT_ANSWER_SEPARATORS)


# The reasoning and verdict string values of a CoT answer as written (escapes included), for `cot_decision_spans`.
_REASONING_STRING = re.compile(r'"reasoning"\s*:\s*"((?:[^"\\]|\\.)*)"')
_VERDICT_STRING = re.compile(r'"verdict"\s*:\s*"((?:[^"\\]|\\.)*)"')


def cot_decision_spans(answer: str, criterion: str) -> tuple[tuple[int, int], ...]:
    """Character spans of a CoT answer (`{"reasoning": ..., "verdict": ...}`, as written, escapes included) that carry
    its decision: the reasoning after a verbatim restatement of the criterion ("The criterion requires: <criterion>.",
    the sample generator's opening, which only copies the prompt), or the whole reasoning when it does not restate it,
    and the verdict value. An answer without both fields has none (it trains unweighted)."""
    reasoning, verdict = _REASONING_STRING.search(answer), _VERDICT_STRING.search(answer)
    if reasoning is None or verdict is None:
        return ()
    start, end = reasoning.span(1)
    restated = json.dumps(f"The criterion requires: {criterion}.", ensure_ascii=False)[1:-1]
    if answer.startswith(restated, start):
        start += len(restated)
        while start < end and answer[start] == " ":
            start += 1
    spans = [(start, end)] if start < end else []
    return tuple(spans + [verdict.span(1)])


_VERDICT_FIELD = re.compile(r'"verdict"\s*:\s*"([a-z_ ]+)"', re.IGNORECASE)


def parse_cot_verdict(output: str) -> str | None:
    """The verdict of a CoT answer, or None when it does not parse.

    Strict JSON first; then the `"verdict": "..."` field alone, because a long reasoning string cut by
    `max_new_tokens` or an unescaped quote should not cost the verdict when the field itself is intact
    (the seed system lost ~8% of verdicts to such parse failures)."""
    text = output.strip()
    try:
        verdict = json.loads(text).get("verdict")
    except (json.JSONDecodeError, AttributeError):
        match = _VERDICT_FIELD.search(text)
        verdict = match.group(1) if match else None
    if not isinstance(verdict, str):
        return None
    verdict = verdict.strip().lower().replace(" ", "_")
    return verdict if verdict in COT_VERDICTS else None


# ---- endpoints (seed 001) -------------------------------------------------------------------------------
ENDPOINT_SYSTEM_PROMPT = (
    "You are a clinical trial endpoint extraction system. Extract structured endpoint information from "
    "clinical trial text. Return ONLY valid JSON."
)


def endpoint_messages(text: str) -> list[Message]:
    return [
        {"role": "system", "content": ENDPOINT_SYSTEM_PROMPT},
        {
            "role": "user",
            "content": f"Extract all endpoint fields from this clinical trial text. Return ONLY a JSON.\n\nText:\n{text}\n\nOutput (JSON only):",
        },
    ]


ENDPOINT_ANSWER_SEPARATORS = (",", ":")


def endpoint_answer(output: dict) -> str:
    """The training target: compact JSON (no spaces after separators: fewer tokens to generate), keys in schema order."""
    return json.dumps(output, ensure_ascii=False, separators=ENDPOINT_ANSWER_SEPARATORS)


# ---- chemical / disease / relation extraction (seed 002) -----------------------------------------------
CHEM_NER_TASKS = ("chemicals", "diseases", "influences")
CHEM_NER_SYSTEM_PROMPT = (
    "You are a medical NER expert specialized in extracting entities from biomedical texts. "
    "Extract entities EXACTLY as they appear in the text. Return ONLY entities found verbatim in the article; "
    "for relationships use the format 'chemical | disease'. One entity per line with a leading dash."
)


def chem_ner_messages(text: str, task: str) -> list[Message]:
    if task not in CHEM_NER_TASKS:
        raise ValueError(f"unknown chem-ner task {task!r}; expected one of {CHEM_NER_TASKS}")
    return [
        {"role": "system", "content": CHEM_NER_SYSTEM_PROMPT},
        {
            "role": "user",
            "content": (
                "The following article contains technical terms including diseases, drugs and chemicals. "
                f"Create a list only of the {task} mentioned.\n\n{text}\n\nList of extracted {task}:"
            ),
        },
    ]


def chem_ner_answer(items: list[str]) -> str:
    """Seed 002 output: one "- item" line per entity (relations as "chemical | disease")."""
    return "\n".join(f"- {item}" for item in items)


# ---- safety-aware medical QA (seed 003) -----------------------------------------------------------------
QA_SAFETY_SYSTEM_PROMPT = (
    "You are a careful medical assistant providing evidence-based, educational information. "
    "You do not diagnose, do not give doses for a specific person, and do not handle emergencies: "
    "for those, refuse briefly and refer the user to a healthcare professional or emergency services."
)
QA_REFUSAL = "I don't have enough information to answer this safely. Please consult a healthcare professional."


def qa_messages(instruction: str, input_text: str | None = None) -> list[Message]:
    """The safety prompt is applied here and only here, for training and inference alike."""
    user = instruction if not input_text else f"{instruction}\n\n{input_text}"
    return [{"role": "system", "content": QA_SAFETY_SYSTEM_PROMPT}, {"role": "user", "content": user}]
