"""evaluate-nli: test accuracy / macro F1 with CIs vs untuned base, majority and hypothesis-only baselines
(params: seed, models.nli, nli.max_seq_len, nli.eval_batch_size, eval.bootstrap) → metrics/eval/nli*.json."""

from medtune.config import load_params
from medtune.console import setup_logging
from medtune.evaluate.nli import evaluate_nli
from medtune.io import write_json
from medtune.train.nli import nli_settings

setup_logging()
params = load_params()
settings, _ = nli_settings(params)
metrics = evaluate_nli(
    model_dir="models/nli/model",
    base_model=settings.model,
    train_path="data/split/nli/train.jsonl",
    test_path="data/split/nli/test.jsonl",
    max_seq_len=settings.max_seq_len,
    batch_size=settings.eval_batch_size,
    bootstrap=params["eval"]["bootstrap"],
    seed=settings.seed,
    confusion_json="metrics/eval/nli_confusion.json",
    confusion_png="metrics/eval/nli_confusion.png",
)
write_json("metrics/eval/nli.json", metrics)
