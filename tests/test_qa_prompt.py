"""The safety system prompt is one function (`prompts.qa_messages`), used identically by training, evaluation and chat."""

from __future__ import annotations

import pytest
from qa_fixtures import qa_splits

from medtune import prompts
from medtune.evaluate.qa import qa_prompts
from medtune.serve.chat import build_messages
from medtune.train.tasks import RowError, chat_ids, converter


@pytest.fixture(scope="module")
def rows():
    splits = qa_splits(120)
    return splits["train"] + splits["test"]


def test_training_evaluation_and_chat_prompts_are_identical(rows):
    with_input = [r for r in rows if r.get("input")]
    assert with_input, "fixture must cover the optional input field"
    examples = [converter("qa")(r) for r in rows]
    for row, example, evaluated in zip(rows, examples, qa_prompts(rows)):
        expected = prompts.qa_messages(row["instruction"], row.get("input"))
        assert example.prompt == expected == evaluated == row["messages"][:-1]
        assert example.prompt[0] == {"role": "system", "content": prompts.QA_SAFETY_SYSTEM_PROMPT}
        assert example.completion == [{"role": "assistant", "content": row["response"]}]
        if not row.get("input"):
            assert build_messages([], row["instruction"]) == expected


def test_every_path_calls_the_one_prompt_function(rows, monkeypatch):
    """Replace prompts.qa_messages: training, evaluation and chat must all follow (no copied prompt anywhere)."""
    def patched(instruction, input_text=None):
        return [{"role": "system", "content": "PATCHED SAFETY PROMPT"}, {"role": "user", "content": instruction}]

    monkeypatch.setattr(prompts, "qa_messages", patched)
    row = rows[0]
    assert converter("qa")(row).prompt[0]["content"] == "PATCHED SAFETY PROMPT"
    assert qa_prompts([row])[0][0]["content"] == "PATCHED SAFETY PROMPT"
    history = [{"role": "user", "content": "earlier"}, {"role": "assistant", "content": "answer"}]
    chat = build_messages(history, "What is asthma?")
    assert chat[0]["content"] == "PATCHED SAFETY PROMPT" and chat[1:3] == history and chat[-1]["content"] == "What is asthma?"


def test_chat_keeps_the_system_prompt_first_with_history():
    history = [{"role": "user", "content": "What is gout?"}, {"role": "assistant", "content": "Gout is arthritis."}]
    messages = build_messages(history, "What are its symptoms?")
    assert messages[0] == prompts.qa_messages("x")[0]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]


def test_inference_prompt_tokens_are_the_training_prefix(rows):
    """At the token level: the prompt chat/evaluation send is exactly the start of the training sequence."""
    from medtune.train.base_lm import train_tokenizer

    tokenizer = train_tokenizer([r["instruction"] for r in rows] + [prompts.QA_SAFETY_SYSTEM_PROMPT, prompts.QA_REFUSAL], 400)
    for row in rows[:20]:
        example = converter("qa")(row)
        training = chat_ids(tokenizer, example.prompt + example.completion)
        inference = chat_ids(tokenizer, qa_prompts([row])[0], add_generation_prompt=True)
        assert training[: len(inference)] == inference and len(training) > len(inference)


@pytest.mark.parametrize("row,message", [
    ({"response": "x"}, "instruction"),
    ({"instruction": " ", "response": "x"}, "instruction"),
    ({"instruction": "q"}, "response"),
    ({"instruction": "q", "response": "x", "input": 3}, "input"),
])
def test_bad_qa_rows_are_errors(row, message):
    with pytest.raises(RowError, match=message):
        converter("qa")(row)


def test_long_input_is_cut_not_the_question():
    example = converter("qa")({"instruction": "Explain this condition.", "input": "Condition: asthma", "response": "x"})
    index, start, end = example.shrinkable
    assert example.prompt[index]["content"][start:end] == "Condition: asthma"
