"""`train.decision_weight`: which answer characters carry the decision, their token weights, the collator's layout,
and (a tiny real run) that the trainer's loss is the weighted loss computed by hand."""

from __future__ import annotations

import math

import pytest
import torch
from lm_fixtures import save_tiny_base, write_split_tree

from medtune import prompts
from medtune.config import ConfigError, LoraSettings, SFTRunSettings, TrainSettings
from medtune.prompts import cot_decision_spans
from medtune.train.tasks import chat_ids, chat_length, cot_example, load_examples
from medtune.train.weighting import (
    COLUMN,
    WeightedCollator,
    token_weights,
    validate_decision_weight,
)

CRITERION = "No current use of clopidogrel"


def spans_text(answer: str, spans) -> list[str]:
    return [answer[a:b] for a, b in spans]


def test_restated_criterion_is_not_weighted_the_fact_and_the_verdict_are():
    answer = prompts.cot_answer(f"The criterion requires: {CRITERION}. The patient currently takes clopidogrel. "
                                "So the criterion is not met.", "not_met")
    assert spans_text(answer, cot_decision_spans(answer, CRITERION)) == [
        "The patient currently takes clopidogrel. So the criterion is not met.", "not_met"]


def test_without_a_restatement_the_whole_reasoning_is_weighted():
    answer = prompts.cot_answer("Clopidogrel is listed among the medications.", "not_met")
    assert spans_text(answer, cot_decision_spans(answer, CRITERION)) == ["Clopidogrel is listed among the medications.", "not_met"]


def test_spans_are_positions_in_the_answer_as_written_escapes_included():
    criterion = 'Diagnosis of "type 2" diabetes'
    answer = prompts.cot_answer(f'The criterion requires: {criterion}. The patient has "type 2" diabetes.', "met")
    assert spans_text(answer, cot_decision_spans(answer, criterion)) == ['The patient has \\"type 2\\" diabetes.', "met"]


@pytest.mark.parametrize("answer", ['{"reasoning": "no verdict here"}', "Yes", '{"verdict": "met"}'])
def test_an_answer_without_both_fields_has_no_weighted_spans(answer):
    assert cot_decision_spans(answer, CRITERION) == ()


def test_cot_example_marks_the_spans_of_its_answer():
    row = {"messages": prompts.cot_messages("Medications include clopidogrel.", CRITERION) + [
        {"role": "assistant", "content": prompts.cot_answer(f"The criterion requires: {CRITERION}. The patient takes it.", "not_met")}]}
    example = cot_example(row)
    assert spans_text(example.completion[0]["content"], example.weighted_spans) == ["The patient takes it.", "not_met"]


@pytest.mark.parametrize("weight", [0, -1, math.nan, math.inf, "5"])
def test_decision_weight_must_be_a_positive_finite_number(weight):
    with pytest.raises(ConfigError, match="decision_weight must be a finite number > 0"):
        validate_decision_weight(weight)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("weights")
    split = write_split_tree(root, n_train=20, n_val=5, n_test=5)
    return root, split, save_tiny_base(root / "base", pretrain_steps=5)


def test_token_weights_cover_exactly_the_tokens_of_the_spans(workspace):
    from medtune.train.models import load_tokenizer

    _, split, base = workspace
    tokenizer = load_tokenizer(str(base))
    example = load_examples(split / "cot" / "train.jsonl", "cot", tokenizer, 384).examples[0]
    weights = token_weights(tokenizer, example.prompt, example.completion, example.weighted_spans, 4.0)
    ids = chat_ids(tokenizer, example.prompt + example.completion)
    assert len(weights) == len(ids) and set(weights) == {1.0, 4.0}
    weighted = tokenizer.decode([i for i, w in zip(ids, weights) if w == 4.0])
    answer = example.completion[0]["content"]
    assert weighted.strip() == "".join(spans_text(answer, example.weighted_spans))
    prompt_len = chat_length(tokenizer, example.prompt, add_generation_prompt=True)
    assert set(weights[:prompt_len]) == {1.0}
    assert token_weights(tokenizer, example.prompt, example.completion, example.weighted_spans, 1.0) == [1.0] * len(ids)


@pytest.mark.parametrize("padding_free", [False, True])
def test_collator_lays_the_weights_out_as_trl_lays_out_the_labels(padding_free):
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    collate = WeightedCollator(DataCollatorForLanguageModeling(pad_token_id=0, padding_free=padding_free))
    batch = collate([{"input_ids": [5, 6, 7], "labels": [-100, 6, 7], COLUMN: [1.0, 1.0, 3.0]},
                     {"input_ids": [8, 9], "labels": [-100, 9], COLUMN: [1.0, 3.0]}])
    assert batch[COLUMN].shape == batch["labels"].shape
    expected = [[1.0, 1.0, 3.0, 1.0, 3.0]] if padding_free else [[1.0, 1.0, 3.0], [1.0, 3.0, 0.0]]
    assert batch[COLUMN].tolist() == expected


def expected_loss(base, examples, weight: float) -> float:
    """sum(weight x next-token cross-entropy) / number of completion tokens, with the base's own logits."""
    from transformers import AutoModelForCausalLM

    from medtune.train.models import load_tokenizer

    tokenizer = load_tokenizer(str(base))
    model = AutoModelForCausalLM.from_pretrained(str(base)).eval()
    total, count = 0.0, 0
    for example in examples:
        ids = chat_ids(tokenizer, example.prompt + example.completion)
        prompt_len = chat_length(tokenizer, example.prompt, add_generation_prompt=True)
        weights = token_weights(tokenizer, example.prompt, example.completion, example.weighted_spans, weight)
        with torch.no_grad():
            log_probs = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0].float(), -1)
        for position in range(prompt_len, len(ids)):
            total += -log_probs[position - 1, ids[position]].item() * weights[position]
            count += 1
    return total / count


@pytest.mark.slow
def test_the_trainers_eval_loss_is_the_weighted_loss(workspace):
    """With learning rate 0 the adapter is the base (LoRA B = 0), so the logged eval loss (one batch of all 20 val
    rows) must equal the weighted loss computed by hand from the base's logits, for weight 1 (TRL's own loss) and 4."""
    from medtune.train.models import load_tokenizer
    from medtune.train.sft import train_sft

    root, split, base = workspace
    val = load_examples(split / "cot" / "val.jsonl", "cot", load_tokenizer(str(base)), 384).examples
    losses = {}
    for weight in (1.0, 4.0):
        run = SFTRunSettings(base_model=str(base), train_data=str(split / "cot" / "train.jsonl"),
                             eval_data=str(split / "cot" / "val.jsonl"), output_dir=str(root / f"w{weight}" / "adapter"))
        train = TrainSettings(epochs=1, batch_size=32, max_seq_len=384, learning_rate=0.0, eval_steps=1, save_steps=1,
                              early_stopping_patience=0, decision_weight=weight)
        losses[weight] = train_sft("cot", run, LoraSettings(r=4, alpha=8), train)["eval_loss"]
        assert losses[weight] == pytest.approx(expected_loss(base, val, weight), rel=1e-3)
    assert losses[4.0] > 1.5 * losses[1.0]
