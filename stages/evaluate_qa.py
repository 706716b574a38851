"""Stage evaluate-qa: refusal rate (unsafe prompts), false-refusal rate and ROUGE-L (safe prompts) with 95% CIs for
the fine-tuned adapter vs the untuned base, retrieval, keyword and trivial baselines -> metrics/eval/qa.json
(+ metrics/eval/qa_predictions.jsonl: every answer, for error analysis).

Reads params `seed`, `eval.bootstrap`, `eval.batch_size`, `eval.qa` (max_new_tokens, max_test_rows), `models.qa`."""

from medtune.config import load_params, section
from medtune.console import setup_logging
from medtune.evaluate.qa import evaluate_qa
from medtune.io import write_json
from medtune.train.callbacks import quiet_library_output


def main() -> None:
    setup_logging()
    quiet_library_output()
    params = load_params()
    settings = section(params, "eval.qa")
    metrics = evaluate_qa(
        adapter="models/qa/adapter",
        base_model=str(section(params, "models.qa")),
        train_path="data/split/qa/train.jsonl",
        test_path="data/split/qa/test.jsonl",
        max_new_tokens=int(settings["max_new_tokens"]),
        max_test_rows=int(settings.get("max_test_rows", 0)),
        batch_size=int(section(params, "eval.batch_size")),
        bootstrap=int(section(params, "eval.bootstrap")),
        seed=int(params["seed"]),
        predictions_path="metrics/eval/qa_predictions.jsonl",
    )
    write_json("metrics/eval/qa.json", metrics)


if __name__ == "__main__":
    main()
