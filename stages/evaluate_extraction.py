"""Stages evaluate-endpoints / evaluate-chem-ner: the adapter, the untuned base and the baseline on the test split
-> metrics/eval/<task>.json (+ metrics/eval/<task>_predictions.jsonl for error analysis).

Reads params `seed`, `eval.bootstrap`, `eval.batch_size`, `eval.backend`, `eval.<task block>` (max_new_tokens,
max_test_rows; endpoints also `constrained`) and `models.<task block>`."""

import argparse

from medtune.config import load_params, params_key, section
from medtune.console import setup_logging
from medtune.evaluate.chem_ner import evaluate_chem_ner
from medtune.evaluate.endpoints import evaluate_endpoints
from medtune.io import write_json
from medtune.train.callbacks import quiet_library_output

EVALUATORS = {"endpoints": evaluate_endpoints, "chem-ner": evaluate_chem_ner}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--task", choices=sorted(EVALUATORS), required=True)
    task = parser.parse_args().task
    setup_logging()
    quiet_library_output()
    params = load_params()
    key = params_key(task)
    settings = section(params, f"eval.{key}")
    metrics = EVALUATORS[task](
        adapter=f"models/{task}/adapter",
        base_model=str(section(params, f"models.{key}")),
        train_path=f"data/split/{task}/train.jsonl",
        test_path=f"data/split/{task}/test.jsonl",
        max_new_tokens=int(settings["max_new_tokens"]),
        max_test_rows=int(settings.get("max_test_rows", 0)),
        batch_size=int(section(params, "eval.batch_size")),
        bootstrap=int(section(params, "eval.bootstrap")),
        seed=int(params["seed"]),
        predictions_path=f"metrics/eval/{task}_predictions.jsonl",
        backend=str(section(params, "eval.backend", "transformers")),
        **({"constrained": bool(settings["constrained"])} if task == "endpoints" else {}),  # chem-ner answers are not JSON
    )
    write_json(f"metrics/eval/{task}.json", metrics)


if __name__ == "__main__":
    main()
