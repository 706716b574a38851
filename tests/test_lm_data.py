"""Row -> chat example conversion, length fitting and the build-base corpus (no training)."""

from __future__ import annotations

import re

import pytest
from lm_fixtures import make_rows, write_split_tree

from medtune import prompts
from medtune.config import ConfigError
from medtune.io import InputError, write_jsonl
from medtune.train.base_lm import corpus_texts, train_tokenizer
from medtune.train.tasks import (chat_length, cot_example, fit_to_length, load_examples, messages_example,
                                  reranker_example)


@pytest.fixture(scope="module")
def tokenizer():
    rows = make_rows(20, seed=5)
    texts = [r["patient_text"] for r in rows["reranker"]] + [r["criterion"] for r in rows["reranker"]]
    return train_tokenizer(texts + [prompts.RERANKER_QUESTION, prompts.COT_SYSTEM_PROMPT], vocab_size=500)


def long_patient(n: int = 200) -> str:
    return " ".join(f"Visit {i}: reports mild fatigue and walks daily." for i in range(n))


def test_reranker_example_uses_the_runtime_prompt():
    row = {"patient_text": "Never smoked.", "criterion": "Current smoker", "label": "No"}
    example = reranker_example(row)
    assert example.prompt == prompts.reranker_messages("Never smoked.", "Current smoker")
    assert example.completion == [{"role": "assistant", "content": "No"}]
    index, start, end = example.shrinkable
    assert example.prompt[index]["content"][start:end] == "Never smoked."


@pytest.mark.parametrize(
    "row, message",
    [
        ({"patient_text": "x", "criterion": "y", "label": "maybe"}, "not one of"),
        ({"patient_text": "x", "label": "Yes"}, "'criterion'"),
    ],
)
def test_bad_reranker_rows_name_file_and_line(tmp_path, tokenizer, row, message):
    good = {"patient_text": "Never smoked.", "criterion": "Current smoker", "label": "No"}
    path = tmp_path / "train.jsonl"
    write_jsonl(path, [good, row])
    with pytest.raises(InputError, match=rf"train.jsonl:2: .*{message}"):
        load_examples(path, "reranker", tokenizer, 256)


def test_messages_example_needs_a_final_assistant_turn():
    with pytest.raises(ValueError, match="last message must be the assistant"):
        messages_example({"messages": prompts.cot_messages("p", "c")})


def test_long_reranker_row_is_cut_in_the_patient_text_only(tokenizer):
    row = {"patient_text": "HbA1c was 6.1%. " + long_patient(), "criterion": "HbA1c below 8%", "label": "Yes"}
    example = reranker_example(row)
    assert chat_length(tokenizer, example.prompt + example.completion) > 120
    fitted, reason = fit_to_length(example, tokenizer, 120)
    assert reason == "truncated"
    assert chat_length(tokenizer, fitted.prompt + fitted.completion) <= 120
    content = fitted.prompt[0]["content"]
    header = f"{prompts.RERANKER_QUESTION}\n\nPatient: HbA1c was 6.1%."
    assert content.startswith(header)  # question and the start of the patient text survive
    assert content.endswith("\n\nCriterion: HbA1c below 8%")  # and the whole criterion after the cut
    assert len(content) < len(example.prompt[0]["content"])
    assert fitted.completion == example.completion  # the answer is never cut


def test_long_cot_row_keeps_the_system_prompt_and_answer(tokenizer):
    messages = prompts.cot_messages(long_patient(), "Current smoker") + [
        {"role": "assistant", "content": prompts.cot_answer("Not mentioned.", "unknown")}]
    example = cot_example({"messages": messages})
    budget = chat_length(tokenizer, prompts.cot_messages("", "Current smoker") + messages[2:]) + 40
    fitted, reason = fit_to_length(example, tokenizer, budget)
    assert reason == "truncated"
    assert fitted.prompt[0] == messages[0]
    assert fitted.prompt[1]["content"].startswith("Criterion: Current smoker\n\nPatient: Visit 0:")
    assert fitted.completion[0] == messages[2]


def test_a_patient_first_cot_row_trains_on_the_runtime_prompt():
    """A row in the other layout (or with another system prompt) is trained on the prompt serving sends."""
    answer = {"role": "assistant", "content": prompts.cot_answer("The patient smokes.", "met")}
    other_layout = [{"role": "system", "content": "Decide."},
                    {"role": "user", "content": "Patient: Smokes daily.\n\nLives alone.\n\nCriterion: Current smoker"}]
    example = cot_example({"messages": other_layout + [answer]})
    assert example.prompt == prompts.cot_messages("Smokes daily.\n\nLives alone.", "Current smoker")
    index, start, end = example.shrinkable
    assert example.prompt[index]["content"][start:end] == "Smokes daily.\n\nLives alone."
    assert example.completion == [answer]


def test_a_cot_row_in_another_layout_or_schema_keeps_its_own_turns():
    free_form = [{"role": "user", "content": "Is the patient eligible? Patient: smokes."},
                 {"role": "assistant", "content": prompts.cot_answer("Smokes.", "met")}]
    assert cot_example({"messages": free_form}).prompt == free_form[:1]
    other_schema = [{"role": "user", "content": "Criterion: Current smoker\n\nPatient: Smokes daily."},
                    {"role": "assistant", "content": '{"eligible": true}'}]
    assert cot_example({"messages": other_schema}).prompt == other_schema[:1]


def test_rows_that_cannot_fit_are_rejected_and_counted(tmp_path, tokenizer):
    rows = make_rows(3, seed=9)["reranker"]
    rows.append({"patient_text": "Never smoked.", "criterion": "Current smoker " * 200, "label": "No"})
    rows.append({"patient_text": long_patient(), "criterion": "Current smoker", "label": "No"})
    write_jsonl(tmp_path / "train.jsonl", rows)
    loaded = load_examples(tmp_path / "train.jsonl", "reranker", tokenizer, 160)
    assert loaded.rows == len(rows)
    assert loaded.rejected == {"too_long_even_without_patient_text": 1}
    assert loaded.truncated == 1
    assert len(loaded.examples) == len(rows) - 1
    report = loaded.report("train")
    assert report["train_rejected_too_long_even_without_patient_text"] == 1


def test_a_long_prompt_without_patient_text_is_rejected(tokenizer):
    messages = [{"role": "user", "content": "Explain " * 300}, {"role": "assistant", "content": "ok"}]
    fitted, reason = fit_to_length(messages_example({"messages": messages}), tokenizer, 64)
    assert fitted is None and reason == "too_long_nothing_to_truncate"


def test_corpus_reads_only_train_splits(tmp_path):
    split = write_split_tree(tmp_path, n_train=5, n_val=5, n_test=5)
    marker_val = "UNIQUEVALTOKEN"
    val = make_rows(2, seed=77)["reranker"]
    val[0]["patient_text"] = marker_val
    write_jsonl(split / "reranker" / "val.jsonl", val)
    texts = corpus_texts(split)
    assert not any(marker_val in t for t in texts)
    train_patients = {r["patient_text"] for r in make_rows(5, seed=1)["reranker"]}
    assert train_patients <= set(texts)
    # answers are labels, not unlabeled text
    assert not any('"verdict"' in t and "reasoning" in t and t.startswith("{") for t in texts)


def test_corpus_needs_train_files(tmp_path):
    with pytest.raises(InputError, match="no \\*/train.jsonl"):
        corpus_texts(tmp_path)


def test_tokenizer_training_is_deterministic():
    texts = [r["patient_text"] for r in make_rows(10, seed=3)["reranker"]]
    a, b = train_tokenizer(texts, 400), train_tokenizer(texts, 400)
    assert a.get_vocab() == b.get_vocab()


def test_chat_warmup_answers_follow_the_literal_text():
    from medtune.train.base_lm import chat_warmup_conversations

    texts = [r["patient_text"] for r in make_rows(10, seed=4)["reranker"]]
    conversations = chat_warmup_conversations(texts, 200, seed=1)
    assert len(conversations) > 150
    answers = set()
    for user, assistant in conversations:
        word = user["content"].split('"')[1]
        sentence = user["content"].split("Text: ", 1)[1]
        assert (word.lower() in sentence.lower()) == (assistant["content"] == "Yes")
        answers.add(assistant["content"])
    assert answers == {"Yes", "No"}
    assert chat_warmup_conversations(texts, 200, seed=1) == conversations  # seeded


def test_tiny_lm_head_dim_must_suit_vllm():
    from medtune.config import ConfigError, TinyLMSettings
    from medtune.train.base_lm import build_model

    tokenizer = train_tokenizer(["a b c"], 300)
    with pytest.raises(ConfigError, match="head_dim.*>= 32"):
        build_model(tokenizer, TinyLMSettings(hidden_size=96, num_heads=4), seed=0)


def test_built_base_loads_with_plain_transformers(tmp_path):
    from lm_fixtures import save_tiny_base
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = save_tiny_base(tmp_path)
    assert (base / "model.safetensors").exists()
    model = AutoModelForCausalLM.from_pretrained(str(base))
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    assert model.config.head_dim >= 32 and model.config.model_type == "llama"
    assert "{% generation %}" in tokenizer.chat_template
    assert tokenizer.eos_token == "<|end|>" and model.generation_config.eos_token_id == tokenizer.eos_token_id


def test_build_base_is_deterministic(tmp_path):
    from lm_fixtures import save_tiny_base

    first, second = save_tiny_base(tmp_path / "a", pretrain_steps=2), save_tiny_base(tmp_path / "b", pretrain_steps=2)
    assert (first / "tokenizer.json").read_bytes() == (second / "tokenizer.json").read_bytes()
    assert (first / "model.safetensors").read_bytes() == (second / "model.safetensors").read_bytes()


def test_concept_warmup_counts_synonyms_and_negations_and_keeps_holdout_names_out():
    from medtune.sample import lexicon as lx
    from medtune.train.base_lm import concept_warmup_conversations, lexicon_concepts

    texts = ["Known T2DM, diagnosed 3 years ago. Denies asthma. Latest eGFR was 48 mL/min/1.73 m2.",
             "EGFR mutation detected in tumor tissue. Currently takes warfarin daily."]
    conversations = concept_warmup_conversations(texts, 300, seed=1)
    answers = {}
    for user, assistant in conversations:
        term, text = user["content"].split('"')[1], user["content"].split("Text: ", 1)[1]
        answers[(term, text[:5])] = assistant["content"]
    first, second = texts[0][:5], texts[1][:5]
    expected = {("type 2 diabetes mellitus", first): "Yes", ("bronchial asthma", first): "Yes",  # synonym, negation
                ("estimated GFR", first): "Yes", ("EGFR", first): "No",  # the lab eGFR is not the gene EGFR
                ("EGFR", second): "Yes", ("anticoagulant", second): "Yes", ("heart failure", second): "No"}
    seen = {key: answers[key] for key in expected if key in answers}
    assert len(seen) >= 4 and all(answers[key] == expected[key] for key in seen)
    assert set(answers.values()) == {"Yes", "No"}
    holdout = {n for c in lx.CONDITIONS for n in c.holdout_names} | {n for lab in lx.LABS for n in lab.holdout_names}
    assert not holdout & {s for concept in lexicon_concepts() for s in concept}
    assert concept_warmup_conversations(texts, 300, seed=1) == conversations  # seeded


def test_split_digits_gives_every_digit_its_own_token_and_round_trips():
    texts = ["HbA1c 5.6 %. ALT 33 U/L. The patient is a 21 year old woman."] * 20
    split, merged = train_tokenizer(texts, 400, split_digits=True), train_tokenizer(texts, 400, split_digits=False)
    text = "HbA1c 5.67 %, ALT 123 U/L"
    tokens = split.convert_ids_to_tokens(split(text)["input_ids"])
    assert [t for t in tokens if any(ch.isdigit() for ch in t) and len(t.lstrip("Ġ")) > 1 and t.lstrip("Ġ").isdigit()] == []
    assert {"1", "2", "3"} <= set(tokens)
    assert split.decode(split(text)["input_ids"]) == text
    assert any(t.lstrip("Ġ").isdigit() and len(t.lstrip("Ġ")) > 1 for t in merged.convert_ids_to_tokens(merged("ALT 33 U/L")["input_ids"]))


def test_quote_warmup_answers_with_the_one_sentence_that_holds_the_word():
    from medtune.train.base_lm import quote_warmup_conversations

    texts = [r["patient_text"] for r in make_rows(10, seed=4)["reranker"]] + ["One sentence only without a second."]
    conversations = quote_warmup_conversations(texts, 100, seed=1)
    assert len(conversations) == 100
    for user, assistant in conversations:
        word, text = user["content"].split('"')[1], user["content"].split("Text: ", 1)[1]
        assert assistant["content"] in text and word in assistant["content"]
        others = text.replace(assistant["content"], "")
        assert word not in re.findall(r"[A-Za-z][A-Za-z0-9-]{3,}", others)
    assert quote_warmup_conversations(texts, 100, seed=1) == conversations  # seeded
    assert quote_warmup_conversations(["A single sentence."], 10, seed=1) == []


def test_probe_documents_answer_from_the_text_and_the_lexicon_only():
    from medtune.train.base_lm import probe_documents

    texts = ["Known T2DM, diagnosed 3 years ago. Currently takes apixaban daily. Denies asthma.",
             "Latest eGFR was 48 mL/min/1.73 m2. Works as a teacher."]
    documents = probe_documents(texts, 200, seed=1)
    assert len(documents) == 200
    answers: dict = {}
    for document in documents:
        head, probes = document.split("\nMentioned?\n")
        lines = probes.split("\n")
        assert len(lines) == 8
        for line in lines:
            term, answer = line.rsplit(": ", 1)
            answers.setdefault((head[6:11], term), set()).add(answer)
    assert all(len(a) == 1 for a in answers.values())  # the same question always gets the same answer
    first, second = texts[0][:5], texts[1][:5]
    expected = {(first, "type 2 diabetes mellitus"): "Yes", (first, "anticoagulant"): "Yes", (first, "asthma"): "Yes",
                (first, "warfarin"): "No", (second, "estimated GFR"): "Yes", (second, "EGFR"): "No", (second, "teacher"): "Yes"}
    seen = {k: v for k, v in expected.items() if k in answers}
    assert len(seen) >= 3 and all(answers[k] == {v} for k, v in seen.items())
    assert probe_documents(texts, 200, seed=1) == documents  # seeded


def test_probe_phrases_name_one_concept_and_are_answered_by_it():
    from medtune.train.base_lm import concept_phrases, lexicon_concepts, probe_documents
    from medtune.sample.lexicon import DRUG_CLASSES

    texts = ["No current use of apixaban. On lisinopril for high blood pressure. Must not have bronchial asthma.",
             "Any anticoagulant in the last month is excluded. Free of T2DM.",
             "Known T2DM, diagnosed 3 years ago. Currently takes warfarin daily. Works as a teacher."]
    concepts = lexicon_concepts()
    phrases = {concepts[i][0]: sentences for i, sentences in concept_phrases(texts, concepts, set(DRUG_CLASSES)).items()}
    # two concepts (lisinopril, high blood pressure) in one sentence: not a phrase; a class counts by its class name
    assert phrases == {"apixaban": ["No current use of apixaban"], "asthma": ["Must not have bronchial asthma"],
                       "anticoagulant": ["Any anticoagulant in the last month is excluded"], "warfarin": ["Currently takes warfarin daily"],
                       "type 2 diabetes": ["Free of T2DM", "Known T2DM, diagnosed 3 years ago"]}
    # asked about the third text: the answer is whether that text names the phrase's concept (warfarin is an anticoagulant)
    mentioned_in_third = {"No current use of apixaban": "No", "Must not have bronchial asthma": "No",
                          "Any anticoagulant in the last month is excluded": "Yes", "Free of T2DM": "Yes"}
    asked = set()
    for document in probe_documents(texts, 300, seed=3, phrase_share=1.0):
        head, probes = document.split("\nMentioned?\n")
        for line in probes.split("\n"):
            term, answer = line.rsplit(": ", 1)
            # concepts with a phrase are asked by it (multi-word names only: a single word may be a literal-word probe)
            assert term not in ("bronchial asthma", "type 2 diabetes", "type 2 diabetes mellitus")
            if head == f"Text: {texts[2]}" and term in mentioned_in_third:
                assert answer == mentioned_in_third[term], line
                asked.add(term)
    assert len(asked) >= 3
    assert probe_documents(texts, 50, seed=3, phrase_share=0.5) == probe_documents(texts, 50, seed=3, phrase_share=0.5)
    with pytest.raises(ConfigError, match="probe_phrase_share must be between 0 and 1, got 1.5"):
        probe_documents(texts, 50, seed=3, phrase_share=1.5)


def test_repeat_documents_copy_a_span_of_the_corpus():
    from medtune.train.base_lm import repeat_documents

    texts = ["First sentence here. Second one follows. Third closes it."]
    for document in repeat_documents(texts, 30, seed=2):
        first, second = document.split("\nRepeat: ")
        assert first.startswith("Text: ") and first[6:] == second and second in texts[0]


def test_pseudo_name_rows_are_added_to_training_only_when_asked(tmp_path, tokenizer):
    rows = [{"patient_text": f"Takes metformin. Visit {i}.", "criterion": "Currently receiving metformin", "label": "Yes"}
            for i in range(40)]
    write_jsonl(tmp_path / "train.jsonl", rows)
    plain = load_examples(tmp_path / "train.jsonl", "reranker", tokenizer, 256)
    augmented = load_examples(tmp_path / "train.jsonl", "reranker", tokenizer, 256, pseudo_names=0.5, seed=3)
    assert len(plain.examples) == 40 and "train_pseudo_name_rows" not in plain.report("train")
    added = augmented.pseudo_name_rows
    assert 0 < added < 40 and len(augmented.examples) == 40 + added
    assert augmented.report("train")["train_pseudo_name_rows"] == added
    assert augmented.examples[:40] == plain.examples  # the real rows are unchanged and come first
    assert not any("metformin" in e.prompt[0]["content"] for e in augmented.examples[40:])
