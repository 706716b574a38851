"""Loss only on the completion: labels of the SFTTrainer datasets and batches, and the reranker answer tokens."""

from __future__ import annotations

import pytest
from lm_fixtures import make_rows, save_tiny_base

from medtune.config import LoraSettings, TrainSettings
from medtune.io import write_jsonl
from medtune.train import models as model_utils
from medtune.train.scoring import yes_no_token_ids
from medtune.train.sft import sft_config
from medtune.train.tasks import chat_ids, load_examples


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory):
    return save_tiny_base(tmp_path_factory.mktemp("base"))


def prepared_trainer(base_dir, task, rows, tmp_path, padding_free=True):
    from datasets import Dataset
    from trl import SFTTrainer

    path = tmp_path / f"{task}.jsonl"
    write_jsonl(path, rows)
    tokenizer = model_utils.load_tokenizer(str(base_dir))
    loaded = load_examples(path, task, tokenizer, 512)
    padding = "free" if padding_free else "longest"
    args = sft_config(TrainSettings(max_seq_len=512, padding=padding), tmp_path / "ck", False, "float32", False, padding)
    trainer = SFTTrainer(
        model=model_utils.load_causal_lm(str(base_dir), "float32", False),
        args=args,
        train_dataset=Dataset.from_list([e.as_record() for e in loaded.examples]),
        processing_class=tokenizer,
        peft_config=model_utils.lora_config(LoraSettings()),
    )
    return trainer, tokenizer, loaded.examples


@pytest.mark.parametrize("task", ["reranker", "cot"])
def test_prompt_tokens_are_masked_and_answer_tokens_are_not(base_dir, tmp_path, task):
    rows = make_rows(4, seed=11)[task]
    trainer, tokenizer, examples = prepared_trainer(base_dir, task, rows, tmp_path)
    assert len(trainer.train_dataset) == len(examples)
    for record, example in zip(trainer.train_dataset, examples):
        prompt_len = len(chat_ids(tokenizer, example.prompt, add_generation_prompt=True))
        full = chat_ids(tokenizer, example.prompt + example.completion)
        assert record["input_ids"] == full
        labels = record["labels"]
        assert all(label == -100 for label in labels[:prompt_len]), "a prompt token carries loss"
        assert labels[prompt_len:] == full[prompt_len:], "an answer token is masked"
        assert len(labels) > prompt_len
        answer = tokenizer.decode(full[prompt_len:], skip_special_tokens=True)
        assert answer == example.completion[0]["content"]


def test_padding_free_batches_keep_the_mask_and_split_rows(base_dir, tmp_path):
    rows = make_rows(2, seed=12)["reranker"]
    trainer, tokenizer, examples = prepared_trainer(base_dir, "reranker", rows, tmp_path)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(3)])
    assert "attention_mask" not in batch and batch["input_ids"].shape[0] == 1  # rows flattened, no padding
    positions = batch["position_ids"][0].tolist()
    assert positions.count(0) == 3  # each row restarts its positions: attention stays within the row
    labelled = (batch["labels"][0] != -100).sum().item()
    expected = sum(len(chat_ids(tokenizer, e.prompt + e.completion)) - len(chat_ids(tokenizer, e.prompt, True)) for e in examples[:3])
    assert labelled == expected


def test_padding_free_loss_equals_padded_loss(base_dir, tmp_path):
    """Flattened rows must not attend across row boundaries (SDPA gets a block-diagonal mask from position_ids)."""
    import torch

    rows = make_rows(2, seed=13)["reranker"]
    free, _, _ = prepared_trainer(base_dir, "reranker", rows, tmp_path / "a", padding_free=True)
    padded, _, _ = prepared_trainer(base_dir, "reranker", rows, tmp_path / "b", padding_free=False)
    features = [free.train_dataset[i] for i in range(4)]
    model = free.model.eval()
    with torch.no_grad():
        loss_free = model(**free.data_collator(features)).loss
        loss_padded = model(**padded.data_collator(features)).loss
    assert torch.allclose(loss_free, loss_padded, atol=1e-5)


def test_yes_no_ids_are_the_trained_answer_tokens(base_dir, tmp_path):
    rows = make_rows(6, seed=14)["reranker"]
    trainer, tokenizer, examples = prepared_trainer(base_dir, "reranker", rows, tmp_path)
    yes_id, no_id = yes_no_token_ids(tokenizer)
    assert yes_id != no_id
    for record, row in zip(trainer.train_dataset, rows):
        first_answer_label = next(label for label in record["labels"] if label != -100)
        assert first_answer_label == (yes_id if row["label"] == "Yes" else no_id)
