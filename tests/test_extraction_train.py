"""The two extraction tasks on the shared SFT machinery: converters, params scoping (`-S lora.r=32` reaches them),
the 8-bit-AdamW rule, and a real tiny train → evaluate → predict run (slow)."""

import json
import logging

import pytest
import yaml

from medtune import prompts
from medtune.config import LoraSettings, SFTRunSettings, TrainSettings, params_key, sft_settings
from medtune.data.formats import parser_for
from medtune.io import write_jsonl
from medtune.sample import generate
from medtune.train import models as model_utils
from medtune.config import SFT_TASKS, default_run
from medtune.train.tasks import RowError, chem_ner_example, converter, endpoints_example


def canonical(task: str, n: int, seed: int = 0) -> list[dict]:
    parse = parser_for(task)
    return [parse(r).row for r in generate(task, n, seed=seed, holdout_fraction=0.0)]


def test_endpoints_converter_uses_the_runtime_prompt_and_compact_json():
    row = canonical("endpoints", 1)[0]
    example = endpoints_example(row)
    assert example.prompt == prompts.endpoint_messages(row["text"])
    answer = example.completion[0]["content"]
    assert json.loads(answer) == row["output"] and ": " not in answer.split('"')[0] and '","' in answer
    assert example.shrinkable is None  # a cut text would no longer support its JSON
    with pytest.raises(RowError):
        endpoints_example({"text": "x", "output": "not an object"})


def test_chem_ner_converter_lists_answers_as_bullets():
    row = {"task": "influences", "text": "Cisplatin-induced nephrotoxicity.", "answers": ["Cisplatin | nephrotoxicity", "x | y"]}
    example = chem_ner_example(row)
    assert example.prompt == prompts.chem_ner_messages(row["text"], "influences")
    assert example.completion[0]["content"] == "- Cisplatin | nephrotoxicity\n- x | y"
    with pytest.raises(RowError, match="not one of"):
        chem_ner_example({**row, "task": "genes"})
    assert converter("chem-ner") is chem_ner_example and {"endpoints", "chem-ner"} <= set(SFT_TASKS)


def test_task_blocks_override_only_what_they_set():
    params = {"lora": {"r": 32, "alpha": 16}, "train": {"epochs": 2, "learning_rate": 1e-3},
              "chem_ner": {"lora": {"alpha": 32}, "train": {"epochs": 1}}, "models": {"chem_ner": "models/x"}}
    lora, train = sft_settings(params, "chem-ner")
    assert (lora.r, lora.alpha, train.epochs, train.learning_rate) == (32, 32, 1, 1e-3)
    assert params_key("chem-ner") == "chem_ner" and default_run(params, "chem-ner").base_model == "models/x"
    assert default_run(params, "chem-ner").train_data == "data/split/chem-ner/train.jsonl"


def test_repo_params_let_the_shared_lora_rank_reach_both_stages(repo_root):
    """`dvc exp run -S lora.r=32` must re-run and change train-endpoints / train-chem-ner (README rule)."""
    params = yaml.safe_load((repo_root / "params.yaml").read_text())
    stages = yaml.safe_load((repo_root / "dvc.yaml").read_text())["stages"]
    for task, stage in (("endpoints", "train-endpoints"), ("chem-ner", "train-chem-ner")):
        assert {"lora", "train", params_key(task), f"models.{params_key(task)}"} <= set(stages[stage]["params"])
        params["lora"]["r"] = 32
        assert sft_settings(params, task)[0].r == 32
    for stage in ("evaluate-endpoints", "evaluate-chem-ner"):
        assert any(str(p).startswith("eval") for p in stages[stage]["params"])


@pytest.mark.skipif(model_utils.cuda_available(), reason="CPU behaviour")
def test_optim_auto_is_plain_adamw_on_cpu_with_a_logged_note(caplog):
    with caplog.at_level(logging.INFO, logger="medtune"):
        assert model_utils.resolve_optim("auto", load_in_4bit=False) == "adamw_torch"
    assert "8-bit AdamW needs bitsandbytes on CUDA" in caplog.text
    assert model_utils.resolve_optim("adamw_bnb_8bit", load_in_4bit=False) == "adamw_bnb_8bit"


@pytest.mark.slow
@pytest.mark.parametrize("task", ["endpoints", "chem-ner"])
def test_tiny_train_evaluate_predict(task, tmp_path):
    from lm_fixtures import save_tiny_base

    from medtune.evaluate.chem_ner import evaluate_chem_ner
    from medtune.evaluate.endpoints import evaluate_endpoints
    from medtune.serve.predict import predict
    from medtune.train.sft import train_sft

    base = save_tiny_base(tmp_path / "base")
    rows = canonical(task, 48, seed=1)
    paths = {split: tmp_path / f"{split}.jsonl" for split in ("train", "val", "test")}
    write_jsonl(paths["train"], rows[:36])
    write_jsonl(paths["val"], rows[36:42])
    write_jsonl(paths["test"], rows[42:])
    run = SFTRunSettings(base_model=str(base), train_data=str(paths["train"]), eval_data=str(paths["val"]), output_dir=str(tmp_path / "adapter"))
    train = TrainSettings(epochs=1, learning_rate=3e-3, batch_size=6, max_seq_len=1024, eval_steps=3, save_steps=3, logging_steps=3)
    metrics = train_sft(task, run, LoraSettings(r=4, alpha=8), train, metrics_path=tmp_path / "train.json")
    assert metrics["steps"] == 6 and metrics["eval_token_accuracy"] is not None
    assert (tmp_path / "adapter" / "adapter_config.json").exists()

    evaluate = evaluate_endpoints if task == "endpoints" else evaluate_chem_ner
    result = evaluate(tmp_path / "adapter", str(base), paths["train"], paths["test"], max_new_tokens=12, batch_size=4,
                      bootstrap=20, predictions_path=tmp_path / "predictions.jsonl", show=False)
    assert result["n_test"] == 6 and len((tmp_path / "predictions.jsonl").read_text().splitlines()) == 6
    if task == "endpoints":
        # the most-frequent-value baseline always prints schema-valid JSON; a 6-step model truncated at 12 tokens cannot
        assert result["majority_json_validity"] == 1.0 and result["majority_schema_validity"] == 1.0
        for key in ("json_validity", "schema_validity", "endpoint_f1", "field_accuracy", "base_field_accuracy", "test_loss",
                    "base_test_token_accuracy", "delta_field_accuracy_vs_majority_ci_low", "free_json_validity"):
            assert key in result
        assert result["test_loss"] < result["base_test_loss"]  # trained on the task: lower loss on its answers
    else:
        for key in ("macro_f1", "macro_f1_unfiltered", "chemicals_f1_ci_low", "gazetteer_macro_f1", "base_influences_f1",
                    "delta_macro_f1_vs_gazetteer_ci_high"):
            assert key in result
        assert 0.0 <= result["macro_f1"] <= 1.0 and 0.0 <= result["gazetteer_macro_f1"] <= 1.0

    outputs = predict(task, str(tmp_path / "adapter"), [rows[-1]["text"]], max_new_tokens=12, batch_size=2)
    assert len(outputs) == 1
    if task == "chem-ner":
        assert set(outputs[0]) == set(prompts.CHEM_NER_TASKS)
    else:
        assert "error" in outputs[0] or "endpoints" in outputs[0] or "schema_errors" in outputs[0]
