"""Chat-style causal-LM tasks: canonical row -> (prompt messages, completion messages), and length fitting.

One small converter per task (a table, so endpoints / qa / chem-ner plug in later). Every prompt comes from
`medtune.prompts`, the same functions scoring and serving use. Each example also marks the *shrinkable* span of
its prompt — the patient text — so an over-long row is cut there and never loses the system prompt, the
criterion or the question; a row that still does not fit is rejected with a counted reason.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import orjson

from medtune import prompts
from medtune.io import InputError, iter_jsonl_lines

Message = dict[str, str]
PATIENT_MARKER = "\n\nPatient: "


@dataclass(frozen=True)
class ChatExample:
    prompt: list[Message]
    completion: list[Message]
    # (index of a prompt message, start, end) of the characters that may be cut when the example is too long
    shrinkable: tuple[int, int, int] | None = None
    # (start, end) character spans of the completion message that carry the answer's decision; their tokens'
    # loss is multiplied by `train.decision_weight` (train/weighting.py)
    weighted_spans: tuple[tuple[int, int], ...] = ()

    def as_record(self) -> dict:
        """TRL's conversational prompt-completion format: loss on the completion only."""
        return {"prompt": self.prompt, "completion": self.completion}


class RowError(ValueError):
    """A row lacks what its task needs (the caller adds file and line)."""


def _patient_span(messages: list[Message]) -> tuple[int, int, int] | None:
    """The patient text: after the last 'Patient: ' marker of the last user turn, to the end of that turn."""
    for index in range(len(messages) - 1, -1, -1):
        if messages[index]["role"] == "user":
            content = messages[index]["content"]
            at = content.rfind(PATIENT_MARKER)
            return (index, at + len(PATIENT_MARKER), len(content)) if at >= 0 else None
    return None


def reranker_example(row: dict) -> ChatExample:
    for name in ("patient_text", "criterion", "label"):
        if not isinstance(row.get(name), str):
            raise RowError(f"reranker row needs a string '{name}'")
    if row["label"] not in prompts.RERANKER_LABELS:
        raise RowError(f"reranker label {row['label']!r} is not one of {prompts.RERANKER_LABELS}")
    prompt = prompts.reranker_messages(row["patient_text"], row["criterion"])
    # the criterion follows the patient text, so the shrinkable span is the patient text itself, not "to the end"
    start = prompt[0]["content"].index(PATIENT_MARKER) + len(PATIENT_MARKER)
    patient_span = (0, start, start + len(row["patient_text"]))
    return ChatExample(prompt, [{"role": "assistant", "content": row["label"]}], patient_span)


def cot_example(row: dict) -> ChatExample:
    """A cot `messages` row whose last user turn is a patient text and a criterion (either order) is trained on the
    runtime prompt `prompts.cot_messages`, the one evaluation and serving send (seed 000: training reuses the exact
    runtime prompts) when its answer carries our verdict; the shrinkable span is then the patient text itself.
    Other rows train on their own turns."""
    example = messages_example(row)
    parts = prompts.split_cot_user_turn(example.prompt[-1]["content"]) if example.prompt[-1]["role"] == "user" else None
    if parts is None or prompts.parse_cot_verdict(example.completion[0]["content"]) is None:
        return example  # another layout, or an answer in another schema: our system prompt would contradict it
    criterion, patient = parts
    prompt = prompts.cot_messages(patient, criterion)
    start = prompt[-1]["content"].rfind(patient)  # the runtime layout ends with the patient text
    spans = prompts.cot_decision_spans(example.completion[0]["content"], criterion)
    return ChatExample(prompt, example.completion, (len(prompt) - 1, start, start + len(patient)), spans)


def messages_example(row: dict) -> ChatExample:
    """Canonical `messages` rows (cot; any chat task stored as messages): the last turn is the assistant answer to learn."""
    messages = row.get("messages")
    if not isinstance(messages, list) or len(messages) < 2:
        raise RowError("row needs 'messages' with at least a user and an assistant turn")
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("content"), str) or message.get("role") not in (
            "system", "user", "assistant"):
            raise RowError(f"malformed message {message!r}")
    if messages[-1]["role"] != "assistant":
        raise RowError("the last message must be the assistant answer")
    prompt = [{"role": m["role"], "content": m["content"]} for m in messages[:-1]]
    return ChatExample(prompt, [{"role": "assistant", "content": messages[-1]["content"]}], _patient_span(prompt))


def qa_example(row: dict) -> ChatExample:
    """Canonical qa rows (seed 003): the prompt is rebuilt with `prompts.qa_messages` from instruction/input, so the
    safety system prompt is the very one evaluation and `medtune chat` use (never a copy stored in the row)."""
    instruction, input_text, response = row.get("instruction"), row.get("input"), row.get("response")
    if not isinstance(instruction, str) or not instruction.strip():
        raise RowError("qa row needs a non-empty string 'instruction'")
    if not isinstance(response, str) or not response.strip():
        raise RowError("qa row needs a non-empty string 'response'")
    if input_text is not None and not isinstance(input_text, str):
        raise RowError("qa 'input' must be a string when present")
    prompt = prompts.qa_messages(instruction, input_text or None)
    # An over-long row is cut in its optional `input` context, never in the system prompt or the question.
    user = prompt[-1]["content"]
    shrinkable = (len(prompt) - 1, user.rfind(input_text), len(user)) if input_text and user.endswith(input_text) else None
    return ChatExample(prompt, [{"role": "assistant", "content": response}], shrinkable)


def endpoints_example(row: dict) -> ChatExample:
    """Seed 001: endpoint text -> compact JSON of its `output`. Nothing is shrinkable: a cut text would no longer
    support its target JSON, so an over-long row is rejected (counted), never trained on half-read."""
    if not isinstance(row.get("text"), str) or not isinstance(row.get("output"), dict):
        raise RowError("endpoints row needs a string 'text' and an object 'output'")
    return ChatExample(prompts.endpoint_messages(row["text"]), [{"role": "assistant", "content": prompts.endpoint_answer(row["output"])}])


def chem_ner_example(row: dict) -> ChatExample:
    """Seed 002: article + task -> "- item" lines (relations as "chemical | disease"). Not shrinkable either: a cut
    article would drop mentions its answer list still names."""
    if row.get("task") not in prompts.CHEM_NER_TASKS:
        raise RowError(f"chem-ner task {row.get('task')!r} is not one of {prompts.CHEM_NER_TASKS}")
    answers = row.get("answers")
    if not isinstance(row.get("text"), str) or not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        raise RowError("chem-ner row needs a string 'text' and a list of strings 'answers'")
    prompt = prompts.chem_ner_messages(row["text"], row["task"])
    return ChatExample(prompt, [{"role": "assistant", "content": prompts.chem_ner_answer(answers)}])


TASKS: dict[str, Callable[[dict], ChatExample]] = {
    "reranker": reranker_example,
    "cot": cot_example,
    "qa": qa_example,
    "endpoints": endpoints_example,
    "chem-ner": chem_ner_example,
}


def converter(task: str) -> Callable[[dict], ChatExample]:
    if task not in TASKS:
        raise ValueError(f"unknown causal-LM task {task!r}; known: {sorted(TASKS)}")
    return TASKS[task]


# ---- length fitting -------------------------------------------------------------------------------------------


def chat_length(tokenizer, messages: list[Message], add_generation_prompt: bool = False) -> int:
    return len(chat_ids(tokenizer, messages, add_generation_prompt))


def chat_ids(tokenizer, messages: list[Message], add_generation_prompt: bool = False) -> list[int]:
    encoded = tokenizer.apply_chat_template(
        messages, tokenize=True, add_generation_prompt=add_generation_prompt, return_dict=True
    )
    return list(encoded["input_ids"])


def fit_to_length(example: ChatExample, tokenizer, max_tokens: int) -> tuple[ChatExample | None, str | None]:
    """(example that fits in `max_tokens`, None) or (shortened example, "truncated") or (None, reason).

    Without a completion the prompt is measured with the generation prompt appended (the scoring/serving case)."""
    messages_of = lambda ex: ex.prompt + ex.completion  # noqa: E731
    with_gen = not example.completion
    length = chat_length(tokenizer, messages_of(example), with_gen)
    if length <= max_tokens:
        return example, None
    if example.shrinkable is None:
        return None, "too_long_nothing_to_truncate"
    index, start, end = example.shrinkable
    content = example.prompt[index]["content"]
    text = content[start:end]
    offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    keep = len(offsets) - (length - max_tokens)
    # Token boundaries can shift a little after a cut: re-measure and cut further until it fits.
    while keep > 0:
        cut = offsets[keep][0] if keep < len(offsets) else len(text)
        prompt = list(example.prompt)
        prompt[index] = {**prompt[index], "content": content[:start] + text[:cut].rstrip() + content[end:]}
        shortened = dataclasses.replace(example, prompt=prompt, shrinkable=(index, start, start + len(text[:cut].rstrip())))
        length = chat_length(tokenizer, messages_of(shortened), with_gen)
        if length <= max_tokens:
            return shortened, "truncated"
        keep -= max(1, length - max_tokens)
    return None, "too_long_even_without_patient_text"


@dataclass
class LoadedExamples:
    examples: list[ChatExample]
    rows: int
    truncated: int
    rejected: Counter
    pseudo_name_rows: int = 0

    def report(self, prefix: str) -> dict:
        out = {f"{prefix}_rows": self.rows, f"{prefix}_examples": len(self.examples), f"{prefix}_truncated": self.truncated}
        if self.pseudo_name_rows:
            out[f"{prefix}_pseudo_name_rows"] = self.pseudo_name_rows
        out.update({f"{prefix}_rejected_{reason}": n for reason, n in sorted(self.rejected.items())})
        return out


def load_examples(path: Path | str, task: str, tokenizer, max_tokens: int, max_rows: int = 0,
                  pseudo_names: float = 0.0, seed: int = 0) -> LoadedExamples:
    """Read a canonical split file and convert + fit every row; malformed rows are errors naming file:line
    (the split files are pipeline products: a bad row there is a bug upstream, not something to skip).
    `pseudo_names` > 0 adds that share of the rows again with made-up names (train/augment.py; training only)."""
    convert = converter(task)
    examples, truncated, rejected, rows, read = [], 0, Counter(), 0, []
    for number, line in iter_jsonl_lines(path):
        if max_rows and rows >= max_rows:
            break
        rows += 1
        try:
            row = orjson.loads(line)
            example = convert(row)
        except orjson.JSONDecodeError as exc:
            raise InputError(f"{path}:{number}: invalid JSON ({exc})") from exc
        except RowError as exc:
            raise InputError(f"{path}:{number}: {exc}") from exc
        fitted, reason = fit_to_length(example, tokenizer, max_tokens)
        if fitted is None:
            rejected[reason] += 1
            continue
        truncated += reason == "truncated"
        examples.append(fitted)
        if pseudo_names:
            read.append(row)  # kept only to draw the augmented rows from
    if not examples:
        raise InputError(f"{path}: no usable {task} examples ({rows} rows, rejected: {dict(rejected) or 'none'})")
    added = 0
    if pseudo_names:
        from medtune.train.augment import pseudo_name_rows

        for row in pseudo_name_rows(read, pseudo_names, seed, task):
            fitted, _ = fit_to_length(convert(row), tokenizer, max_tokens)
            if fitted is not None:  # a made-up name can be longer than the real one
                examples.append(fitted)
                added += 1
    return LoadedExamples(examples, rows, truncated, rejected, added)
