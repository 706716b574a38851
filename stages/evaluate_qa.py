"""evaluate-qa: refusal rate (unsafe prompts), false-refusal rate and ROUGE-L (safe prompts) with 95% CIs for the
fine-tuned adapter vs the untuned base, retrieval, keyword and trivial baselines
(params: seed, models.qa, qa.eval, eval.bootstrap) -> metrics/eval/qa.json, metrics/eval/qa_predictions.jsonl."""

from medtune.config import from_mapping, load_params, section
from medtune.console import setup_logging
from medtune.evaluate.qa import QAEvalSettings, evaluate_qa
from medtune.io import write_json
from medtune.train.callbacks import quiet_library_output
from medtune.train.commands import DEFAULT_BASE_DIR

setup_logging()
quiet_library_output()
params = load_params()
metrics = evaluate_qa(
    adapter_dir="models/qa/adapter",
    base_model=str(section(params, "models.qa", DEFAULT_BASE_DIR)),
    train_path="data/split/qa/train.jsonl",
    test_path="data/split/qa/test.jsonl",
    settings=from_mapping(QAEvalSettings, section(params, "qa.eval", {}), where="qa.eval"),
    bootstrap=int(section(params, "eval.bootstrap")),
    seed=int(params.get("seed", 42)),
    predictions_path="metrics/eval/qa_predictions.jsonl",
)
write_json("metrics/eval/qa.json", metrics)
