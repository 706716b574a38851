"""evaluate-ner: test-split entity P/R/F1 of the tuned model, its untuned base and a gazetteer, with CIs
(params: seed, ner.threshold, ner.batch_size, eval.bootstrap) -> metrics/eval/ner.json."""

from medtune.config import load_params, section
from medtune.console import setup_logging
from medtune.evaluate.ner import evaluate_ner, flatten, headline, print_report, trained_model_dir
from medtune.io import write_json
from medtune.ner.data import read_ner_rows
from medtune.ner.model import load_ner_model
from medtune.ner.schema import load_schema
from medtune.ner.settings import ner_settings

BASE = "models/base/ner"
SCHEMA = "configs/entity_schema.yaml"
SPLIT = "data/split/ner"
OUTPUT = "metrics/eval/ner.json"


def main() -> None:
    setup_logging()
    params = load_params()
    settings, _ = ner_settings(params)
    results = evaluate_ner(
        read_ner_rows(f"{SPLIT}/test.jsonl"),
        read_ner_rows(f"{SPLIT}/train.jsonl"),
        load_ner_model(trained_model_dir("models/ner")),
        load_ner_model(BASE),
        load_schema(SCHEMA),
        threshold=settings.threshold,
        resamples=int(section(params, "eval.bootstrap", 1000)),
        seed=settings.seed,
        batch_size=settings.batch_size,
    )
    metrics = headline(results) | flatten(results)
    write_json(OUTPUT, metrics)
    print_report(metrics)


if __name__ == "__main__":
    main()
