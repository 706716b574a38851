"""train.launcher: the same LoRA SFT through `accelerate launch` with 2 CPU processes (gloo), and its config checks."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from lm_fixtures import save_tiny_base, write_split_tree

from medtune.config import ConfigError, TrainSettings
from medtune.train.launch import accelerate_command, relaunch_if_needed

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"


def test_unknown_launcher_or_config_is_refused_with_the_choices(monkeypatch):
    with pytest.raises(ConfigError, match="train.launcher must be one of python, accelerate"):
        relaunch_if_needed(TrainSettings(launcher="torchrun"), ["x.py"])
    monkeypatch.chdir(REPO)  # the config names resolve against the repo's configs/accelerate
    with pytest.raises(ConfigError, match=r"train.accelerate_config 'nope'.*available: .*cpu-2proc"):
        accelerate_command(TrainSettings(launcher="accelerate", accelerate_config="nope"), ["x.py"])


def test_accelerate_command_uses_the_named_config_and_a_free_port(monkeypatch):
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("MEDTUNE_ACCELERATE_ARGS", "--num_machines 2 --machine_rank 1 --main_process_ip 10.0.0.1")
    command = accelerate_command(TrainSettings(launcher="accelerate", accelerate_config="ddp"), ["stages/train_sft.py", "--task", "cot"])
    assert command[1:5] == ["-m", "accelerate.commands.launch", "--config_file", "configs/accelerate/ddp.yaml"]
    assert command[5:11] == ["--num_machines", "2", "--machine_rank", "1", "--main_process_ip", "10.0.0.1"]
    assert command[11] == "--main_process_port" and int(command[12]) > 0
    assert command[-3:] == ["stages/train_sft.py", "--task", "cot"]


def test_python_launcher_trains_here_and_accelerate_execs_the_launcher_once(monkeypatch):
    calls = []
    monkeypatch.setattr(os, "execve", lambda path, argv, env: calls.append((argv, env)))
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("MEDTUNE_LAUNCHED", raising=False)
    relaunch_if_needed(TrainSettings(), ["x.py"])  # returns: this process trains
    assert calls == []
    relaunch_if_needed(TrainSettings(launcher="accelerate"), ["x.py"])
    (argv, env), = calls
    assert argv[1:3] == ["-m", "accelerate.commands.launch"] and argv[-1] == "x.py" and env["MEDTUNE_LAUNCHED"] == "1"
    monkeypatch.setenv("MEDTUNE_LAUNCHED", "1")  # inside the launched workers: no second relaunch
    relaunch_if_needed(TrainSettings(launcher="accelerate"), ["x.py"])
    assert len(calls) == 1


@pytest.mark.slow
def test_two_cpu_processes_share_the_batches(tmp_path):
    split = write_split_tree(tmp_path, n_train=20, n_val=4, n_test=4)
    base = save_tiny_base(tmp_path / "base")
    n, batch, procs, epochs = 42, 4, 2, 2
    out = tmp_path / "models/reranker/adapter"
    env = os.environ | {"PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "medtune.cli", "train", "reranker", "--base-model", str(base),
           "--train-data", str(split / "reranker/train.jsonl"), "--output-dir", str(out), "--max-examples", str(n),
           "--batch-size", str(batch), "--epochs", str(epochs), "--lora-rank", "4", "--max-seq-len", "256",
           "--save-steps", "100", "--launcher", "accelerate",
           "--accelerate-config", str(REPO / "configs/accelerate/cpu-2proc.yaml")]
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "accelerate.commands.launch" in done.stderr
    metrics = json.loads(done.stdout)  # rank 0 alone prints
    assert metrics["world_size"] == procs
    # each process gets ceil(n / procs) rows; one optimizer step consumes batch x procs rows
    assert metrics["steps"] == math.ceil(n / (batch * procs)) * epochs == 12
    assert {"adapter_config.json", "adapter_model.safetensors"} <= {p.name for p in out.iterdir()}
    assert not (out.parent / "checkpoints").exists()
