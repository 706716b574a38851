"""Stage merge: each causal-LM adapter merged into its base -> models/<task>/merged, checks in metrics/merge.json.

Reads params `merge`, `models.<task>` of every chat task (config.SFT_TASKS: cot, reranker, qa, endpoints, chem_ner)."""

import dataclasses

from medtune.config import SFT_TASKS, MergeSettings, from_mapping, load_params, params_key, section
from medtune.console import setup_logging
from medtune.io import write_json
from medtune.train.callbacks import quiet_library_output
from medtune.train.merge import merge_adapter


def main() -> None:
    setup_logging()
    quiet_library_output()
    params = load_params()
    settings = from_mapping(MergeSettings, params.get("merge"), where="merge")
    metrics = {}
    for task in SFT_TASKS:
        task_settings = dataclasses.replace(
            settings, base_model=str(section(params, f"models.{params_key(task)}")), adapter=f"models/{task}/adapter",
            output_dir=f"models/{task}/merged",
        )
        result = merge_adapter(task_settings)
        metrics.update({f"{params_key(task)}_{k}": v for k, v in result.items() if k in ("max_abs_logit_diff", "adapter_max_logit_effect", "dtype")})
    write_json("metrics/merge.json", metrics)


if __name__ == "__main__":
    main()
