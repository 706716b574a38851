"""Test-wide settings: nothing waits on the network, and torch stays on one thread so tests that train
next to other processes (and `make test`'s one pytest-xdist worker per core) do not oversubscribe the cores
(FACTS.md: ~20x slowdown)."""

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo_root() -> Path:
    return REPO


# Files that run for minutes, longest first (pytest --durations, 2026-11-27): pytest-xdist (`--dist loadfile`)
# hands files to workers in collection order, and the tiny-pipeline file (~6 min alone) collected mid-way kept one
# worker busy while the other sat idle at the end. Only the order changes; inside a file it is kept (stable sort).
LONGEST_FILES_FIRST = ("test_ops_pipeline.py", "test_qa_chat.py", "test_nli_training.py", "test_lm_train.py",
                       "test_serve.py", "test_qa_train_eval.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FILES_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
