"""Generation throughput benchmark: vLLM vs transformers `generate`, same model, same prompts (issue 6: >= 3x).

Both backends decode the CoT evaluation workload — every CoT test prompt (the exact runtime prompt,
`prompts.cot_messages`; at most `MAX_PROMPTS`) with `eval.cot.max_new_tokens` new tokens — greedily with the CoT
adapter on its base (`models.cot`), or the reranker adapter when vLLM cannot load the CoT one, or the base alone
when neither is trained (`servable_adapter`). Every row generates exactly
`max_new_tokens` tokens in both (`min_new_tokens` / `ignore_eos`), so the token counts are identical and the ratio
is a pure wall-time ratio. transformers runs the way evaluation does (`evaluate.generation`: longest prompt first,
left-padded batches of `eval.batch_size`); vLLM gets the whole list at once (continuous batching). Each backend
decodes a few warm-up prompts first (vLLM's first LoRA request compiles kernels), then the workload `REPEATS` times;
the fastest repeat counts (other processes on a shared machine only ever slow a run down). Target: ratio >= 3.

    python -m medtune.serve.bench_generation      # JSON on stdout
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

from medtune.config import load_params, section
from medtune.io import InputError, read_jsonl

log = logging.getLogger(__name__)

DATA = Path("data/split/cot/test.jsonl")
# The CoT adapter when vLLM can load it; in the sample profile it trains lm_head (modules_to_save), which vLLM's
# LoRA refuses, so the reranker adapter (same base, same rank and target modules, LoRA only) carries the workload.
ADAPTER_CANDIDATES = (Path("models/cot/adapter"), Path("models/reranker/adapter"))
TARGET_RATIO = 3.0
MAX_PROMPTS = 256
WARMUP_PROMPTS = 4
REPEATS = 3


def best_of(run, rows, repeats: int = REPEATS) -> tuple[int, float]:
    """(tokens, seconds) of the fastest of `repeats` timed runs, after one warm-up on a few rows."""
    run(rows[:WARMUP_PROMPTS])
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        tokens = run(rows)
        timings.append((tokens, time.perf_counter() - started))
    return min(timings, key=lambda t: t[1])


def bench_prompts(n: int = MAX_PROMPTS) -> list[list[dict]]:
    """The first `n` CoT test prompts (system + user turns; the answer turn dropped)."""
    if not DATA.exists():
        raise InputError(f"{DATA}: missing; run `dvc repro split` first")
    rows = read_jsonl(DATA)[:n]
    if not rows:
        raise InputError(f"{DATA}: no rows")
    return [[m for m in row["messages"] if m["role"] != "assistant"] for row in rows]


def transformers_tokens_per_s(base: str, adapter: Path | None, prompts_: list, max_new_tokens: int, batch_size: int) -> dict:
    import torch

    from medtune.evaluate.generation import load_for_generation, prompt_ids

    model, tokenizer = load_for_generation(base, adapter)
    ids = [prompt_ids(tokenizer, m) for m in prompts_]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    device = next(model.parameters()).device

    # The batching of `evaluate.generation.generate`, repeated here only to force a fixed number of new tokens.
    def run(rows: list[list[int]]) -> int:
        produced = 0
        order = sorted(rows, key=len, reverse=True)
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            width = max(map(len, batch))
            input_ids = torch.tensor([[pad] * (width - len(r)) + r for r in batch], device=device)
            mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in batch], device=device)
            out = model.generate(input_ids=input_ids, attention_mask=mask, max_new_tokens=max_new_tokens,
                                 min_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad, use_cache=True)
            produced += (out.shape[1] - width) * len(batch)
        return produced

    with torch.inference_mode():
        tokens, seconds = best_of(run, ids)
    return {"tokens": tokens, "seconds": round(seconds, 2), "tokens_per_s": round(tokens / seconds, 1),
            "torch_threads": torch.get_num_threads()}


def vllm_tokens_per_s(base: str, adapter: Path | None, prompts_: list, max_new_tokens: int) -> dict:
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    import torch
    from vllm import SamplingParams

    from medtune.evaluate.generation import VllmBackend, prompt_ids

    engine = VllmBackend(base, {"cot": adapter} if adapter else {})
    threads = torch.get_num_threads()  # in-process engine: the intra-op threads its CPU worker set up
    request = engine._request("cot" if adapter else None)
    ids = [{"prompt_token_ids": prompt_ids(engine.tokenizer, m)} for m in prompts_]
    sampling = SamplingParams(temperature=0.0, max_tokens=max_new_tokens, min_tokens=max_new_tokens, ignore_eos=True)

    def run(rows: list[dict]) -> int:
        results = engine.llm.generate(rows, sampling, lora_request=request, use_tqdm=False)
        return sum(len(r.outputs[0].token_ids) for r in results)

    tokens, seconds = best_of(run, ids)
    engine.close()
    # vLLM's CPU worker pins its own OpenMP threads; record what it ran on so the comparison can be judged
    return {"tokens": tokens, "seconds": round(seconds, 2), "tokens_per_s": round(tokens / seconds, 1),
            "torch_threads": threads, "cpus": len(os.sched_getaffinity(0))}


def servable_adapter(candidates) -> Path | None:
    """The first trained adapter vLLM can load (None: the base alone), logging the ones it skips and why."""
    from medtune.serve.server import unservable_reason

    for path in candidates:
        config_file = Path(path) / "adapter_config.json"
        if not config_file.exists():
            continue
        reason = unservable_reason(json.loads(config_file.read_text()))
        if reason is None:
            return Path(path)
        log.info("generation bench: not using %s: %s", path, reason)
    return None


def bench_generation(n_prompts: int = MAX_PROMPTS, max_new_tokens: int | None = None) -> dict:
    params = load_params()
    max_new_tokens = max_new_tokens or int(section(params, "eval.cot.max_new_tokens"))
    base = str(section(params, "models.cot"))
    adapter = servable_adapter(ADAPTER_CANDIDATES)
    batch_size = int(section(params, "eval.batch_size"))
    prompts_ = bench_prompts(n_prompts)
    hf = transformers_tokens_per_s(base, adapter, prompts_, max_new_tokens, batch_size)
    vl = vllm_tokens_per_s(base, adapter, prompts_, max_new_tokens)
    if hf["tokens"] != vl["tokens"]:
        raise RuntimeError(f"backends generated different token counts ({hf['tokens']} vs {vl['tokens']})")
    ratio = vl["tokens_per_s"] / hf["tokens_per_s"]
    return {
        "prompts": len(prompts_), "new_tokens_per_prompt": max_new_tokens, "with_adapter": adapter is not None,
        "adapter": str(adapter) if adapter else None,
        "transformers_batch_size": batch_size, "repeats": REPEATS,
        **{f"transformers_{k}": v for k, v in hf.items()}, **{f"vllm_{k}": v for k, v in vl.items()},
        "vllm_vs_transformers_ratio": round(ratio, 2), "target_ratio": TARGET_RATIO, "meets_target": ratio >= TARGET_RATIO,
    }


if __name__ == "__main__":
    from medtune.console import setup_logging

    setup_logging()
    print(json.dumps(bench_generation(), indent=2))
