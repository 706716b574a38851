"""evaluate-reranker: P(Yes) of the reranker adapter, its untuned base, a majority prior and a lexical-overlap
baseline on the test split -> metrics/eval/reranker.json (accuracy, F1, AUROC, ECE, nDCG@10, MRR with 95% CIs),
plot data metrics/eval/reranker_{confusion,roc,calibration}.json + reranker_curves.png, per-row scores in
metrics/eval/reranker_predictions.jsonl.

Params: seed, eval.bootstrap, eval.batch_size, eval.backend, eval.reranker (max_test_rows), models.reranker, and the
reranker's max_seq_len (train.max_seq_len unless reranker.train overrides it), so prompts are cut as in training."""

from medtune.config import load_params, section, sft_settings
from medtune.console import setup_logging
from medtune.evaluate.reranker import evaluate_reranker
from medtune.io import write_json
from medtune.train.callbacks import quiet_library_output

setup_logging()
quiet_library_output()
params = load_params()
_, train = sft_settings(params, "reranker")
metrics = evaluate_reranker(
    adapter="models/reranker/adapter",
    base_model=str(section(params, "models.reranker")),
    train_path="data/split/reranker/train.jsonl",
    test_path="data/split/reranker/test.jsonl",
    max_seq_len=train.max_seq_len,
    backend=str(section(params, "eval.backend")),
    batch_size=int(section(params, "eval.batch_size")),
    max_test_rows=int(section(params, "eval.reranker.max_test_rows", 0)),
    bootstrap=int(section(params, "eval.bootstrap")),
    seed=int(params["seed"]),
    plots_dir="metrics/eval",
    predictions_path="metrics/eval/reranker_predictions.jsonl",
)
write_json("metrics/eval/reranker.json", metrics)
