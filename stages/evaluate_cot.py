"""evaluate-cot: verdicts of the CoT adapter and its untuned base (greedy, exact runtime prompt) next to a majority
verdict and a lexical rule -> metrics/eval/cot.json (verdict accuracy, macro F1, parse rate with 95% CIs),
metrics/eval/cot_confusion.json and the raw outputs in metrics/eval/cot_predictions.jsonl.

Params: seed, eval.bootstrap, eval.batch_size, eval.backend, eval.cot (max_new_tokens, constrained, max_test_rows),
models.cot."""

from medtune.config import load_params, section
from medtune.console import setup_logging
from medtune.evaluate.cot import evaluate_cot
from medtune.io import write_json
from medtune.train.callbacks import quiet_library_output

setup_logging()
quiet_library_output()
params = load_params()
metrics = evaluate_cot(
    adapter="models/cot/adapter",
    base_model=str(section(params, "models.cot")),
    train_path="data/split/cot/train.jsonl",
    test_path="data/split/cot/test.jsonl",
    max_new_tokens=int(section(params, "eval.cot.max_new_tokens")),
    constrained=bool(section(params, "eval.cot.constrained")),
    backend=str(section(params, "eval.backend")),
    batch_size=int(section(params, "eval.batch_size")),
    max_test_rows=int(section(params, "eval.cot.max_test_rows", 0)),
    bootstrap=int(section(params, "eval.bootstrap")),
    seed=int(params["seed"]),
    confusion_path="metrics/eval/cot_confusion.json",
    predictions_path="metrics/eval/cot_predictions.jsonl",
)
write_json("metrics/eval/cot.json", metrics)
