"""`medtune chat`: talk to the safety-aware QA model (seed 003's interactive inference, with the same safety prompt).

In a terminal: a rich prompt, answers streamed token by token (transformers `TextIteratorStreamer`), `/reset` clears
the conversation, `/exit` (or Ctrl-D) quits. The conversation is kept, newest turns first, within the model's
context length (minus the room for the answer): the oldest turns are dropped, never the system prompt.
When stdin is not a terminal: every input line is one independent question and every output line one JSON object
`{"prompt", "answer", "refused"}` (greedy by default, no streaming, no prompts, nothing else on stdout).
Greedy answers are the ones evaluate-qa scores (same prompt function, same decoding).

Every conversation starts from `prompts.qa_messages`, the function that built the training and evaluation prompts.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import IO, Sequence

from medtune import prompts
from medtune.config import ConfigError, flag
from medtune.io import InputError
from medtune.sample.qa import is_refusal

Message = dict[str, str]
DEFAULT_ADAPTER = "models/qa/adapter"
COMMANDS = ("/reset", "/exit")


@dataclass
class ChatSettings:
    """Flags of `medtune chat` (no params block: chatting is not a pipeline stage)."""

    adapter: str = field(default="", metadata=flag("--adapter", f"LoRA adapter directory (default: {DEFAULT_ADAPTER} when no --model)"))
    model: str = field(default="", metadata=flag("--model", "merged (or any full) model directory, instead of an adapter"))
    base_model: str = field(default="", metadata=flag("--base-model", "base of the adapter (default: the one recorded in adapter_config.json)"))
    max_new_tokens: int = field(default=256, metadata=flag("--max-new-tokens", "longest answer in tokens"))
    temperature: float = field(default=0.0, metadata=flag("--temperature", "sampling temperature; 0 = greedy (reproducible)"))


def build_messages(history: Sequence[Message], question: str) -> list[Message]:
    """The safety system prompt, the kept turns, the new question: the system and user turns come from
    `prompts.qa_messages`, exactly as in training."""
    opening = prompts.qa_messages(question)
    return opening[:-1] + list(history) + opening[-1:]


def fit_history(tokenizer, history: Sequence[Message], question: str, budget: int) -> list[Message]:
    """The newest whole (user, assistant) turns that fit with the system prompt and `question` in `budget` tokens."""
    from medtune.serve.model import prompt_ids

    kept = list(history)
    while True:
        if len(prompt_ids(tokenizer, build_messages(kept, question))) <= budget:
            return kept
        if not kept:
            raise InputError(f"the question alone is longer than the {budget} tokens left for the prompt "
                             "(context length minus --max-new-tokens): shorten it or lower --max-new-tokens")
        kept = kept[2:]  # drop the oldest exchange (a user turn and its answer)


class ChatSession:
    """One conversation with a loaded model: history bounded by the context length."""

    def __init__(self, model, tokenizer, max_new_tokens: int = 256, temperature: float = 0.0):
        from medtune.serve.model import context_length, sampling_kwargs

        self.model, self.tokenizer = model, tokenizer
        self.max_new_tokens, self.temperature = max_new_tokens, temperature
        sampling_kwargs(temperature)  # validate early
        self.budget = context_length(model, tokenizer) - max_new_tokens
        if self.budget < 1:
            raise ConfigError(f"--max-new-tokens {max_new_tokens} leaves no room for the prompt in the model's "
                              f"context of {context_length(model, tokenizer)} tokens")
        self.history: list[Message] = []

    def reset(self) -> None:
        self.history = []

    def messages_for(self, question: str) -> list[Message]:
        self.history = fit_history(self.tokenizer, self.history, question, self.budget)
        return build_messages(self.history, question)

    def ask(self, question: str, out: IO[str] | None = None) -> str:
        """Answer `question` in this conversation; with `out`, stream the answer text there as it is generated."""
        answer = self._complete(self.messages_for(question), out)
        self.history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
        return answer

    def _complete(self, messages: list[Message], out: IO[str] | None) -> str:
        """One conversation's answer. Streaming is transformers' recipe: generate() in a thread feeding a
        TextIteratorStreamer we print from. Greedy answers equal evaluation's (same prompt, same decoding)."""
        from threading import Thread

        import torch
        from transformers import TextIteratorStreamer

        from medtune.serve.model import prompt_ids, sampling_kwargs, stop_token_ids

        device = next(self.model.parameters()).device
        input_ids = torch.tensor([prompt_ids(self.tokenizer, messages)], device=device)
        kwargs = dict(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), max_new_tokens=self.max_new_tokens,
                      eos_token_id=stop_token_ids(self.model, self.tokenizer), pad_token_id=self.tokenizer.pad_token_id,
                      use_cache=True, **sampling_kwargs(self.temperature))  # the tiny base saves use_cache: false
        if out is None:
            with torch.inference_mode():
                output = self.model.generate(**kwargs)
            return self.tokenizer.decode(output[0, input_ids.shape[1]:], skip_special_tokens=True).strip()
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        worker = Thread(target=self._generate_quietly, kwargs={**kwargs, "streamer": streamer}, daemon=True)
        worker.start()
        pieces = []
        for piece in streamer:
            if not pieces:
                piece = piece.lstrip()
            pieces.append(piece)
            out.write(piece)
            out.flush()
        worker.join()
        out.write("\n")
        out.flush()
        return "".join(pieces).strip()

    def _generate_quietly(self, **kwargs) -> None:
        import torch

        with torch.inference_mode():
            self.model.generate(**kwargs)


# ---- the two front ends --------------------------------------------------------------------------------------------


def run_pipe(session: ChatSession, lines: IO[str], out: IO[str]) -> int:
    """One independent question per non-blank line -> one JSON object per line. `/exit` stops; `/reset` is a no-op
    (nothing is remembered between lines). A question too long for the context gets an `error` field."""
    answered = 0
    for line in lines:
        question = line.strip()
        if not question or question == "/reset":
            continue
        if question == "/exit":
            break
        session.reset()
        record: dict = {"prompt": question}
        try:
            answer = session.ask(question)
            record.update(answer=answer, refused=is_refusal(answer))
        except InputError as exc:
            record.update(answer="", refused=False, error=str(exc))
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()
        answered += 1
    return answered


def run_terminal(session: ChatSession, name: str) -> None:
    from rich.prompt import Prompt

    from medtune.console import console, print_error

    console.print(f"[bold]medtune chat[/] — {name}\nType a question; [bold]/reset[/] starts over, [bold]/exit[/] quits. "
                  "Answers are general educational information, not medical advice.")
    while True:
        try:
            question = Prompt.ask("[bold cyan]you[/]", console=console).strip()
        except (EOFError, KeyboardInterrupt):
            console.print()
            return
        if not question:
            continue
        if question == "/exit":
            return
        if question == "/reset":
            forgotten = len(session.history) // 2
            session.reset()
            console.print(f"[dim]conversation cleared ({forgotten} exchange{'s' if forgotten != 1 else ''} forgotten)[/]")
            continue
        if question.startswith("/"):
            console.print(f"[yellow]unknown command {question!r}; commands: {', '.join(COMMANDS)}[/]")
            continue
        console.print("[bold green]assistant[/]")
        try:
            session.ask(question, out=sys.stdout)
        except InputError as exc:
            print_error(exc)
        except KeyboardInterrupt:
            console.print("\n[dim]interrupted[/]")


def chat(settings: ChatSettings, stdin: IO[str] | None = None, stdout: IO[str] | None = None) -> int:
    """Load the model and run the terminal or the pipe front end (chosen by whether stdin is a TTY)."""
    from pathlib import Path

    from medtune.serve.model import load_for_chat
    from medtune.train.callbacks import quiet_library_output

    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    if settings.adapter and settings.model:
        raise ConfigError("medtune chat: give --adapter or --model, not both")
    if settings.base_model and settings.model:
        raise ConfigError("medtune chat: --base-model goes with --adapter (a --model folder is already complete)")
    adapter = settings.adapter or ("" if settings.model else DEFAULT_ADAPTER)
    if adapter and not Path(adapter).is_dir():
        raise InputError(f"{adapter}: adapter directory not found (train it with `dvc repro train-qa`, or pass --model)")
    quiet_library_output()
    model, tokenizer = load_for_chat(adapter=adapter or None, model=settings.model or None,
                                          base_model=settings.base_model or None)
    session = ChatSession(model, tokenizer, settings.max_new_tokens, settings.temperature)
    if stdin.isatty():
        run_terminal(session, adapter or settings.model)
    else:
        run_pipe(session, stdin, stdout)
    return 0
