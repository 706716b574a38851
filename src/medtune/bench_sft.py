"""SFT throughput benchmark: medtune's TRL setup vs the seed's plain `Trainer` + peft + pad-to-max-length.

Both variants train the same LoRA on the same reranker rows, the same base model and batch size, for the same
number of steps, each in its own subprocess (so its peak RSS is its own). Tokens/s counts real (non-pad) tokens,
identical in both runs, so the ratio is the wall-time ratio of the training loops. Target: ratio >= 1.5, peak
RSS <= 4 GiB.

    python -m medtune.bench_sft            # both variants, JSON on stdout
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from medtune.config import ConfigError, load_params, section, sft_settings
from medtune.io import InputError

DATA = Path("data/split/reranker/train.jsonl")
TARGET_RATIO = 1.5
TARGET_RSS_MIB = 4096
STEPS = 40


def _examples(base: str, max_seq_len: int, n_rows: int):
    from medtune.train.models import load_tokenizer
    from medtune.train.tasks import load_examples

    tokenizer = load_tokenizer(base)
    return tokenizer, load_examples(DATA, "reranker", tokenizer, max_seq_len, max_rows=n_rows).examples


def _real_tokens(tokenizer, examples) -> int:
    from medtune.train.tasks import chat_length

    return sum(chat_length(tokenizer, e.prompt + e.completion) for e in examples)


def run_ours(base: str, lora, train, steps: int, padding: str | None = None) -> dict:
    """The path `train_sft` takes: TRL SFTTrainer, prompt-completion rows, `train.padding` batching."""
    from datasets import Dataset
    from transformers.trainer_callback import PrinterCallback
    from trl import SFTTrainer

    from medtune.train import models as model_utils
    from medtune.train.sft import sft_config

    tokenizer, examples = _examples(base, train.max_seq_len, steps * train.batch_size)
    padding = padding or model_utils.resolve_padding(train.padding)
    args = sft_config(train, Path(os.environ.get("TMPDIR", "/tmp")) / "medtune-bench-sft", False, "float32", False, padding)
    args.max_steps, args.save_strategy, args.logging_steps = steps, "no", steps
    trainer = SFTTrainer(
        model=model_utils.load_causal_lm(base, "float32", False, padding),
        args=args,
        train_dataset=Dataset.from_list([e.as_record() for e in examples]),
        processing_class=tokenizer,
        peft_config=model_utils.lora_config(lora),
    )
    trainer.remove_callback(PrinterCallback)
    return _timed(trainer, _real_tokens(tokenizer, examples))


def run_baseline(base: str, lora, train, steps: int) -> dict:
    """The seed's approach: tokenize to a fixed max_length (pad to max), mask the prompt by hand, HF Trainer."""
    import torch
    from datasets import Dataset
    from peft import get_peft_model
    from transformers import Trainer, TrainingArguments, default_data_collator
    from transformers.trainer_callback import PrinterCallback

    from medtune.train import models as model_utils
    from medtune.train.tasks import chat_ids

    tokenizer, examples = _examples(base, train.max_seq_len, steps * train.batch_size)
    rows = []
    for e in examples:
        prompt = chat_ids(tokenizer, e.prompt, add_generation_prompt=True)
        full = chat_ids(tokenizer, e.prompt + e.completion)
        pad = train.max_seq_len - len(full)
        rows.append({
            "input_ids": full + [tokenizer.pad_token_id] * pad,
            "attention_mask": [1] * len(full) + [0] * pad,
            "labels": [-100] * len(prompt) + full[len(prompt):] + [-100] * pad,
        })
    model = get_peft_model(model_utils.load_causal_lm(base, "float32", False), model_utils.lora_config(lora))
    args = TrainingArguments(
        output_dir=str(Path(os.environ.get("TMPDIR", "/tmp")) / "medtune-bench-baseline"),
        max_steps=steps, per_device_train_batch_size=train.batch_size, learning_rate=train.learning_rate,
        save_strategy="no", report_to=[], disable_tqdm=True, logging_steps=steps, seed=train.seed,
        dataloader_num_workers=0, use_cpu=not torch.cuda.is_available(),
    )
    trainer = Trainer(model=model, args=args, train_dataset=Dataset.from_list(rows), data_collator=default_data_collator)
    trainer.remove_callback(PrinterCallback)
    return _timed(trainer, _real_tokens(tokenizer, examples))


def _timed(trainer, real_tokens: int) -> dict:
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    return {
        "tokens": real_tokens,
        "seconds": round(seconds, 2),
        "tokens_per_second": round(real_tokens / seconds, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _settings():
    params = load_params()
    lora, train = sft_settings(params, "reranker")
    base = str(section(params, "models.reranker"))
    if not DATA.exists() or not Path(base).is_dir():
        raise InputError(f"bench sft needs {DATA} and {base}: run `make repro` (or `dvc repro train-reranker`) first")
    return base, lora, train


def _subprocess(variant: str, steps: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    done = subprocess.run([sys.executable, "-m", "medtune.bench_sft", "--variant", variant, "--steps", str(steps)],
                          capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"bench sft {variant} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_sft(steps: int = STEPS) -> dict:
    """Tokens/s of ours vs the pad-to-max baseline (same rows, model, batch, steps) and peak RSS of each."""
    base, lora, train = _settings()
    ours = _subprocess("ours", steps)
    baseline = _subprocess("baseline", steps)
    free = _subprocess("free", steps)  # for the record: why `auto` is not padding-free without FlashAttention
    return {
        "sft_tokens_per_second": ours["tokens_per_second"],
        "sft_baseline_tokens_per_second": baseline["tokens_per_second"],
        "sft_padding_free_tokens_per_second": free["tokens_per_second"],
        "sft_speedup": round(ours["tokens_per_second"] / baseline["tokens_per_second"], 2),
        "sft_speedup_target": TARGET_RATIO,
        "sft_peak_rss_mib": ours["peak_rss_mib"],
        "sft_baseline_peak_rss_mib": baseline["peak_rss_mib"],
        "sft_peak_rss_target_mib": TARGET_RSS_MIB,
        "sft_steps": steps,
        "sft_batch_size": train.batch_size,
        "sft_max_seq_len": train.max_seq_len,
        "sft_padding": train.padding,
        "sft_real_tokens": ours["tokens"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", choices=("ours", "baseline", "free"), help="run one variant (used by the subprocesses)")
    parser.add_argument("--steps", type=int, default=STEPS)
    args = parser.parse_args()
    from medtune.train.callbacks import quiet_library_output

    try:
        if args.variant:
            quiet_library_output()
            base, lora, train = _settings()
            if args.variant == "baseline":
                result = run_baseline(base, lora, train, args.steps)
            else:
                result = run_ours(base, lora, train, args.steps, padding="free" if args.variant == "free" else None)
        else:
            result = bench_sft(args.steps)
    except (ConfigError, InputError) as exc:
        sys.exit(f"error: {exc}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
