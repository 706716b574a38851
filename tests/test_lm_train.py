"""Real (tiny) LoRA SFT runs: best-checkpoint selection, early stopping, outputs, resume after kill, QLoRA on CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lm_fixtures import save_tiny_base, write_split_tree

from medtune.config import LoraSettings, SFTRunSettings, TrainSettings
from medtune.train.sft import train_sft

pytestmark = pytest.mark.slow
SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("ws")
    split = write_split_tree(root, n_train=20, n_val=5, n_test=5)
    return root, split, save_tiny_base(root / "base", pretrain_steps=5)


def run_settings(workspace, task, out, eval_data=True, **kwargs):
    root, split, base = workspace
    return SFTRunSettings(
        base_model=str(base), train_data=str(split / task / "train.jsonl"),
        eval_data=str(split / task / "val.jsonl") if eval_data else "", output_dir=str(root / out), **kwargs,
    )


def load_adapter(base, adapter):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    return PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(str(base)), str(adapter))


def test_reranker_with_eval_keeps_the_best_checkpoint(workspace):
    root, _, base = workspace
    run = run_settings(workspace, "reranker", "models/reranker/adapter")
    train = TrainSettings(epochs=2, batch_size=8, learning_rate=3e-3, eval_steps=4, save_steps=4, save_total_limit=1,
                          max_seq_len=256, logging_steps=2)
    metrics = train_sft("reranker", run, LoraSettings(r=4, alpha=8), train, metrics_path=root / "m.json", live_dir=root / "live")
    adapter = Path(run.output_dir)
    assert {"adapter_config.json", "adapter_model.safetensors", "tokenizer.json"} <= {p.name for p in adapter.iterdir()}
    assert json.loads((adapter / "adapter_config.json").read_text())["r"] == 4
    assert not (adapter.parent / "checkpoints").exists()
    load_adapter(base, adapter)  # plain peft API

    live = root / "live" / "plots" / "metrics"
    eval_losses = [float(line.split("\t")[1]) for line in (live / "eval" / "loss.tsv").read_text().splitlines()[1:]]
    assert len(eval_losses) == metrics["steps"] // 4
    assert metrics["eval_loss"] == pytest.approx(min(eval_losses), abs=1e-4)  # the best checkpoint, not the last
    saved = json.loads((root / "m.json").read_text())
    for key in ("train_loss", "train_token_accuracy", "eval_loss", "eval_token_accuracy", "eval_accuracy",
                "eval_majority_accuracy", "best_checkpoint_step", "train_examples"):
        assert key in saved, key
    assert (live / "train" / "loss.tsv").exists()


def test_early_stopping_without_improvement(workspace):
    run = run_settings(workspace, "reranker", "models/es/adapter")
    train = TrainSettings(epochs=5, batch_size=8, learning_rate=0.0, eval_steps=2, save_steps=2,
                          early_stopping_patience=2, max_seq_len=256)
    metrics = train_sft("reranker", run, LoraSettings(r=4, alpha=8), train)
    assert metrics["steps"] == 6  # eval at 2 (best), 4 and 6 do not improve -> stop
    assert metrics["best_checkpoint_step"] == 2


def test_no_keep_best_ends_on_the_final_weights_and_still_evaluates(workspace):
    from safetensors.torch import load_file

    from medtune.config import ConfigError

    train = dict(epochs=1, batch_size=8, learning_rate=5e-3, eval_steps=4, save_steps=4, max_seq_len=256, early_stopping_patience=0)
    final = run_settings(workspace, "reranker", "models/final-a/adapter")
    metrics = train_sft("reranker", final, LoraSettings(r=4, alpha=8, dropout=0.0), TrainSettings(keep_best=False, **train))
    assert metrics["adapter_step"] == metrics["steps"] == 10 and metrics["last_eval_step"] == 10 and "best_checkpoint_step" not in metrics
    assert metrics["eval_loss"] > 0
    # the same run without evaluation ends on the same weights (LoRA dropout 0: evaluating shifts the dropout RNG)
    plain = run_settings(workspace, "reranker", "models/final-b/adapter", eval_data=False)
    train_sft("reranker", plain, LoraSettings(r=4, alpha=8, dropout=0.0), TrainSettings(**train))
    first, second = (load_file(Path(r.output_dir) / "adapter_model.safetensors") for r in (final, plain))
    assert first.keys() == second.keys() and all((first[k] == second[k]).all() for k in first)
    with pytest.raises(ConfigError, match="early_stopping_patience: 0"):
        train_sft("reranker", final, LoraSettings(r=4, alpha=8), TrainSettings(keep_best=False, **{**train, "early_stopping_patience": 2}))


def test_cot_without_eval_saves_the_final_adapter(workspace):
    _, _, base = workspace
    run = run_settings(workspace, "cot", "models/cot/adapter", eval_data=False)
    metrics = train_sft("cot", run, LoraSettings(r=4, alpha=8), TrainSettings(epochs=1, batch_size=8, max_seq_len=384))
    assert "eval_loss" not in metrics and metrics["train_examples"] == 80
    assert (Path(run.output_dir) / "adapter_model.safetensors").exists()
    load_adapter(base, run.output_dir)


def test_two_runs_give_identical_adapters(workspace):
    from safetensors.torch import load_file

    tensors = []
    for name in ("a", "b"):
        run = run_settings(workspace, "reranker", f"models/det-{name}/adapter", eval_data=False)
        train_sft("reranker", run, LoraSettings(r=4, alpha=8), TrainSettings(epochs=1, batch_size=8, max_seq_len=256))
        tensors.append(load_file(Path(run.output_dir) / "adapter_model.safetensors"))
    assert tensors[0].keys() == tensors[1].keys()
    assert all((tensors[0][k] == tensors[1][k]).all() for k in tensors[0])


def test_qlora_4bit_trains_on_cpu_when_forced(workspace):
    _, _, base = workspace
    run = run_settings(workspace, "reranker", "models/q4/adapter", eval_data=False)
    metrics = train_sft("reranker", run, LoraSettings(r=4, alpha=8),
                        TrainSettings(epochs=1, batch_size=8, max_seq_len=256, max_examples=16, load_in_4bit="true"))
    assert metrics["load_in_4bit"] is True and metrics["steps"] == 2
    load_adapter(base, run.output_dir)  # a QLoRA adapter loads on the full-precision base


def _cli(args, cwd):
    # keep an existing PYTHONPATH (e.g. packages carried to a GPU machine) behind src
    pythonpath = os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": pythonpath, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "COLUMNS": "400"}
    return [sys.executable, "-m", "medtune.cli", "train", "reranker", *args], env


def test_killed_run_resumes_from_its_last_checkpoint(workspace, tmp_path):
    _, split, base = workspace
    out = tmp_path / "models" / "reranker" / "adapter"
    ckpts = out.parent / "checkpoints"
    args = ["--base-model", str(base), "--train-data", str(split / "reranker" / "train.jsonl"), "--output-dir", str(out),
            "--epochs", "4", "--batch-size", "2", "--save-steps", "5", "--save-total-limit", "1", "--max-seq-len", "256"]
    cmd, env = _cli(args, tmp_path)
    first = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 180
    try:
        while not list(ckpts.glob("checkpoint-*/trainer_state.json")):
            assert first.poll() is None, "training finished before it could be killed"
            assert time.time() < deadline, "no checkpoint within 180 s"
            time.sleep(0.05)
    finally:
        first.kill()
        first.wait()
    steps_done = max(int(p.parent.name.split("-")[1]) for p in ckpts.glob("checkpoint-*/trainer_state.json"))
    assert not out.exists()  # nothing half-written where the adapter goes

    done = subprocess.run(cmd + ["--resume"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads(done.stdout)
    assert metrics["resumed_from_step"] == steps_done
    assert metrics["steps"] == 4 * 80 // 2  # the resumed run finished the whole schedule
    assert "resuming from" in done.stderr
    assert (out / "adapter_model.safetensors").exists() and not ckpts.exists()
    load_adapter(base, out)


def test_resume_ignores_checkpoints_made_with_other_settings(workspace, tmp_path):
    _, split, base = workspace
    out = tmp_path / "adapter"
    common = ["--base-model", str(base), "--train-data", str(split / "reranker" / "train.jsonl"), "--output-dir", str(out),
              "--batch-size", "8", "--max-seq-len", "256", "--max-examples", "16", "--save-steps", "1"]
    ckpts = out.parent / "checkpoints"
    cmd, env = _cli(common + ["--lora-rank", "4"], tmp_path)
    from medtune.train.sft import FINGERPRINT_FILE

    # leave a finished-looking checkpoint folder behind, then change a setting
    ckpts.mkdir(parents=True)
    (ckpts / FINGERPRINT_FILE).write_text(json.dumps({"fingerprint": "other"}))
    (ckpts / "checkpoint-1").mkdir()
    (ckpts / "checkpoint-1" / "trainer_state.json").write_text("{}")
    done = subprocess.run(cmd + ["--resume"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout)["resumed_from_step"] is None
    assert "other settings or data: starting fresh" in done.stderr
