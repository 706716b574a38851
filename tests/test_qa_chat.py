"""`medtune chat` driven for real: through a pseudo-terminal (streaming, /reset, /exit) and through a pipe
(one JSON object per line), on a tiny base model with a LoRA adapter; plus history trimming on the real tokenizer."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lm_fixtures import save_tiny_base

from medtune import prompts
from medtune.io import InputError
from medtune.sample.qa import is_refusal
from medtune.serve.chat import build_messages, fit_history

SRC = Path(__file__).resolve().parents[1] / "src"
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
QUESTIONS = ["What is asthma?", "My father has crushing chest pain right now. What should I do?"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny base and a LoRA adapter with random (non-zero) weights: a real adapter that visibly changes outputs."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    root = tmp_path_factory.mktemp("chat")
    base = save_tiny_base(root)
    torch.manual_seed(0)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(str(base)), LoraConfig(
        task_type="CAUSAL_LM", r=4, lora_alpha=8, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"], init_lora_weights=False))
    adapter = root / "qa" / "adapter"
    model.save_pretrained(adapter)
    AutoTokenizer.from_pretrained(str(base)).save_pretrained(adapter)
    return base, adapter


def chat_env() -> dict:
    return {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "NO_COLOR": "1",
            "COLUMNS": "200", "TOKENIZERS_PARALLELISM": "false"}


def run_pipe(args: list[str], text: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "medtune.cli", "chat", *args], input=text, capture_output=True, text=True,
                          env=chat_env(), cwd=cwd, timeout=300)


class Terminal:
    """A child process on a pseudo-terminal (stdlib `pty.fork`), read until a pattern shows up."""

    def __init__(self, args: list[str], cwd: Path):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # child: stdin/stdout/stderr are the pty
            os.chdir(cwd)
            os.execve(sys.executable, [sys.executable, "-m", "medtune.cli", "chat", *args], chat_env())
        self.buffer = ""

    def expect(self, pattern: str, timeout: float = 240) -> str:
        """Text up to and including the first match of `pattern` (ANSI codes and \\r removed); consumed."""
        deadline = time.monotonic() + timeout
        while True:
            match = re.search(pattern, self.buffer)
            if match:
                before, self.buffer = self.buffer[: match.end()], self.buffer[match.end():]
                return before
            ready, _, _ = select.select([self.fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError(f"no {pattern!r} in terminal output: {self.buffer[-2000:]!r}")
            try:
                chunk = os.read(self.fd, 4096).decode(errors="replace")
            except OSError:  # EIO: the child closed the terminal
                raise EOFError(f"terminal closed before {pattern!r}: {self.buffer[-2000:]!r}")
            self.buffer += ANSI.sub("", chunk).replace("\r", "")

    def send(self, line: str) -> None:
        os.write(self.fd, (line + "\n").encode())

    def wait(self, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            try:
                os.read(self.fd, 4096)  # drain so the child never blocks on a full terminal
            except OSError:
                time.sleep(0.05)
        os.kill(self.pid, signal.SIGKILL)
        raise TimeoutError("chat did not exit")


def answers_of(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


@pytest.fixture(scope="module")
def piped(tiny, tmp_path_factory):
    """One pipe run: questions, blank lines, a repeat after /reset, then /exit before a line that must not be read."""
    _, adapter = tiny
    text = f"{QUESTIONS[0]}\n\n   \n{QUESTIONS[1]}\n/reset\n{QUESTIONS[1]}\n/exit\nnever asked\n"
    return run_pipe(["--adapter", str(adapter), "--max-new-tokens", "12"], text, tmp_path_factory.mktemp("pipe"))


def test_pipe_writes_one_json_object_per_question(piped):
    assert piped.returncode == 0, piped.stderr
    records = answers_of(piped.stdout)  # every stdout line is JSON: nothing else is printed there
    assert [r["prompt"] for r in records] == [QUESTIONS[0], QUESTIONS[1], QUESTIONS[1]]
    for record in records:
        assert set(record) == {"prompt", "answer", "refused"}
        assert isinstance(record["answer"], str) and record["answer"]
        assert record["refused"] is is_refusal(record["answer"])
    assert records[1] == records[2]  # each line is answered on its own, greedily (deterministic)


def test_model_flag_and_errors(tiny, piped, tmp_path):
    base, adapter = tiny
    with_base = run_pipe(["--model", str(base), "--max-new-tokens", "12"], QUESTIONS[0] + "\n", tmp_path)
    assert with_base.returncode == 0, with_base.stderr
    assert answers_of(with_base.stdout)[0]["answer"] != answers_of(piped.stdout)[0]["answer"]  # the adapter is applied
    missing = run_pipe(["--max-new-tokens", "4"], "hi\n", tmp_path)  # default models/qa/adapter does not exist here
    assert missing.returncode == 2 and "models/qa/adapter: adapter directory not found" in missing.stderr
    both = run_pipe(["--adapter", str(adapter), "--model", str(base)], "hi\n", tmp_path)
    assert both.returncode == 2 and "not both" in both.stderr


def spoken(screen: str) -> str:
    """The streamed answer on a terminal screen: after the 'assistant' label, before the next prompt."""
    return " ".join(screen.split("assistant", 1)[1].rsplit("you:", 1)[0].split())


def test_terminal_streams_resets_and_exits(tiny, piped, tmp_path):
    _, adapter = tiny
    fresh = answers_of(piped.stdout)
    term = Terminal(["--adapter", str(adapter), "--max-new-tokens", "12"], tmp_path)
    assert "/reset" in term.expect(r"you: ")
    term.send(QUESTIONS[0])
    assert spoken(term.expect(r"you: ")) == " ".join(fresh[0]["answer"].split())  # streamed = the greedy answer
    term.send(QUESTIONS[1])
    term.expect(r"you: ")
    term.send("/reset")
    assert "(2 exchanges forgotten)" in term.expect(r"you: ")  # the session kept both exchanges until now
    term.send("/reset")
    assert "(0 exchanges forgotten)" in term.expect(r"you: ")
    term.send(QUESTIONS[1])
    assert spoken(term.expect(r"you: ")) == " ".join(fresh[1]["answer"].split())
    term.send("/nonsense")
    assert "unknown command" in term.expect(r"you: ")
    term.send("/exit")
    assert term.wait() == 0


def test_terminal_exits_on_end_of_input(tiny, tmp_path):
    _, adapter = tiny
    term = Terminal(["--adapter", str(adapter), "--max-new-tokens", "4"], tmp_path)
    term.expect(r"you: ")
    os.write(term.fd, b"\x04")  # Ctrl-D
    assert term.wait() == 0


# ---- history bounded by the context -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tokenizer(tiny):
    from medtune.train.models import load_tokenizer

    return load_tokenizer(str(tiny[0]))


def test_history_keeps_the_newest_turns_that_fit(tokenizer):
    from medtune.serve.model import prompt_ids

    history = []
    for i in range(6):
        history += [{"role": "user", "content": f"Question {i} about asthma and its usual symptoms?"},
                    {"role": "assistant", "content": f"Answer {i}: wheezing, shortness of breath and chest tightness."}]
    question = "And what helps?"
    full = len(prompt_ids(tokenizer, build_messages(history, question)))
    budget = full - 5  # one exchange too many
    kept = fit_history(tokenizer, history, question, budget)
    assert kept == history[2:]  # the oldest exchange went, whole
    assert len(prompt_ids(tokenizer, build_messages(kept, question))) <= budget
    bare = len(prompt_ids(tokenizer, build_messages([], question)))
    assert fit_history(tokenizer, history, question, bare) == []
    messages = build_messages(fit_history(tokenizer, history, question, bare), question)
    assert messages == prompts.qa_messages(question)  # the system prompt is never dropped
    with pytest.raises(InputError, match="question alone is longer"):
        fit_history(tokenizer, history, question, bare - 1)


def test_session_history_and_reset(tiny):
    from medtune.serve.chat import ChatSession
    from medtune.serve.model import load_for_chat

    model, tok = load_for_chat(adapter=str(tiny[1]))
    session = ChatSession(model, tok, max_new_tokens=4)
    session.ask(QUESTIONS[0])
    assert [m["role"] for m in session.messages_for("next?")] == ["system", "user", "assistant", "user"]
    session.reset()
    assert session.messages_for("next?") == prompts.qa_messages("next?")
    # a small context: the session drops old exchanges by itself, keeps the newest and the system prompt
    from medtune.serve.model import prompt_ids

    exchange = [{"role": "user", "content": QUESTIONS[1]}, {"role": "assistant", "content": "An answer. " * 5}]
    room = len(prompt_ids(tok, build_messages(exchange, QUESTIONS[0]))) + 2
    tight = ChatSession(model, tok, max_new_tokens=model.config.max_position_embeddings - room)
    tight.history = exchange * 3
    messages = tight.messages_for(QUESTIONS[0])
    assert tight.history == exchange and messages == build_messages(exchange, QUESTIONS[0])
