"""NLI speed figures for `make bench`: training throughput (full fine-tune vs LoRA) and inference throughput
of the default encoder on generated premise/hypothesis pairs, measured in the same run so machine load
shifts all of them alike. Target: the sample profile's train-nli within ~90 s on 2 cores."""

from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path

SAMPLE_TRAIN_BUDGET_S = 90.0


def bench_nli(rows: int = 192, seed: int = 42) -> dict:
    from medtune.config import load_params
    from medtune.evaluate.nli import classifier_predictions
    from medtune.io import write_jsonl
    from medtune.sample import generate
    from medtune.train.nli import LABEL2ID, NliSettings, nli_settings, train_nli

    data = generate("nli", rows, seed=seed)
    params = load_params() if Path("params.yaml").exists() else {}
    sample, lora = nli_settings(params)  # the params.yaml profile (seed 004 defaults without one)
    results: dict = {"rows": rows}
    with tempfile.TemporaryDirectory(prefix="bench-nli-") as tmp:
        tmp = Path(tmp)
        write_jsonl(tmp / "train.jsonl", data)
        write_jsonl(tmp / "val.jsonl", data[:32])
        for method in ("full", "lora"):
            settings = NliSettings(
                model=sample.model, method=method, epochs=1, learning_rate=1e-4, batch_size=sample.batch_size,
                grad_accum=1, warmup_ratio=0.0, max_seq_len=sample.max_seq_len, eval_batch_size=64, seed=seed,
            )
            metrics = train_nli(settings, lora, tmp / "train.jsonl", tmp / "val.jsonl", tmp / method)
            results[f"train_{method}_samples_per_s"] = metrics["train_samples_per_second"]
        labelled = [dict(r, label_id=LABEL2ID[r["label"]]) for r in data]
        started = time.perf_counter()
        classifier_predictions(str(tmp / "full" / "model"), labelled, sample.max_seq_len, 64, seed)
        results["predict_samples_per_s"] = round(len(labelled) / (time.perf_counter() - started), 1)
    split = Path("data/split/nli/train.jsonl")
    if split.exists():  # what train-nli should take with these params on this machine now
        train_rows = sum(1 for line in split.read_text().splitlines() if line.strip())
        per_s = results[f"train_{sample.method}_samples_per_s"]
        results["sample_profile_train_estimate_s"] = round(train_rows * sample.epochs / per_s, 1)
        results["sample_profile_train_target_s"] = SAMPLE_TRAIN_BUDGET_S
    results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return results
