#!/usr/bin/env bash
# One-shot GPU check of the causal-LM paths that CPU CI never runs: QLoRA (train.load_in_4bit auto -> 4-bit on
# CUDA), train.dtype auto -> bf16, train.optim auto -> paged 8-bit AdamW, adapter reload, merge (refuses a 4-bit
# base; fp32/bf16 merge with its logit check). Every step is independent: a failure is logged and the next runs.
#
# On the device machine (wheels of trl, datasets, bitsandbytes, orjson, dvclive, ... in .whl; data/split and
# models/base/tiny-lm carried):   bash scripts/gpu_check.sh 2>&1 | tee $OUT/console.log
# Locally on CPU as a dry run (no install, tiny sizes):
#   NO_INSTALL=1 PY=.venv/bin/python OUT=/tmp/gpu_check N_RERANK=16 N_END=16 NO_TESTS=1 bash scripts/gpu_check.sh
# STEPS="env train_reranker_eval pytest_slow" runs only those steps (install always runs). Output: $OUT/summary.json
# and $OUT/logs.tgz (one log per step), so few files come back from the device.
set -u
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 DVC_NO_ANALYTICS=1 TOKENIZERS_PARALLELISM=false COLUMNS=200
PY=${PY:-python3}; OUT=${OUT:-/tmp/gpu_check}; W=${WORK:-/tmp/gpu_work}; STEPS=${STEPS:-all}
N_RERANK=${N_RERANK:-600}; N_END=${N_END:-200}
L=$W/logs; mkdir -p "$OUT" "$W"; rm -rf "${W:?}"/*; mkdir -p "$L"
export PYTHONPATH=/tmp/site:src
# status <step> <text>: one line per step in steps.tsv
status() { printf '%s\t%s\n' "$1" "$2" | tee -a "$L/steps.tsv"; }
# step <name> <cmd...>: run (if selected by STEPS), log stdout+stderr to <name>.log, time it, never stop the script
step() { local name=$1; shift
  case " $STEPS " in *" all "*|*" $name "*) ;; *) [ "$name" = install ] || return 0;; esac
  echo "===== $name: $*"; local t0=$SECONDS
  "$@" >"$L/$name.log" 2>&1; local rc=$?
  tail -n 25 "$L/$name.log"; status "$name" "rc=$rc wall=$((SECONDS - t0))s"; }

# 0. wheels missing from the image (or other versions) -> /tmp/site, first on PYTHONPATH
if [ -z "${NO_INSTALL:-}" ]; then
  step install $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  # tests that start `python -m medtune.cli` with PYTHONPATH=src only (test_lm_train._cli) must see /tmp/site too
  echo "import sys; sys.path.insert(0, '/tmp/site')" > "$($PY -c 'import site; print(site.getsitepackages()[0])')/zz_gpu_check.pth"
fi

# 1. machine and versions
step env bash -c "nvidia-smi; $PY - <<'EOF'
import importlib, torch
for m in ('torch', 'transformers', 'peft', 'trl', 'datasets', 'accelerate', 'bitsandbytes', 'tokenizers', 'pyarrow', 'fsspec', 'huggingface_hub', 'dvclive'):
    try: mod = importlib.import_module(m); print(m, mod.__version__, mod.__file__)
    except Exception as e: print(m, 'IMPORT FAILED', repr(e))
print('cuda', torch.cuda.is_available(), torch.version.cuda, 'bf16', torch.cuda.is_available() and torch.cuda.is_bf16_supported())
EOF"

# Probe: runs `medtune <args>` through medtune.cli.main (the console script's own path) and records what
# load_causal_lm built and what the Trainer used (Linear4bit count, dtypes, optimizer class, peak GPU memory).
cat > "$W/probe.py" <<'EOF'
import collections, json, sys, time, torch
import medtune.train.models as mu, trl
from medtune.cli import main
info, out_json = {}, sys.argv[1]
def types(model):
    c = collections.Counter(f"{type(m).__module__}.{type(m).__name__}" for m in model.modules())
    return {k: v for k, v in c.items() if "Linear" in k or "Embedding" in k}
_load = mu.load_causal_lm
def load(*a, **k):
    m = _load(*a, **k)
    info["load"] = {"args": [str(x) for x in a], "is_loaded_in_4bit": getattr(m, "is_loaded_in_4bit", None),
                    "quant": str(getattr(m.config, "quantization_config", None)), "device": str(next(m.parameters()).device),
                    "param_dtypes": dict(collections.Counter(str(p.dtype) for p in m.parameters())), "modules": types(m)}
    return m
mu.load_causal_lm = load
_train = trl.SFTTrainer.train
def train(self, *a, **k):
    t = time.perf_counter(); out = _train(self, *a, **k)
    opt = getattr(self.optimizer, "optimizer", self.optimizer)
    info["trainer"] = {"wall_s": round(time.perf_counter() - t, 2), "metrics": out.metrics, "optim_arg": str(self.args.optim),
                       "optimizer": f"{type(opt).__module__}.{type(opt).__name__}", "bf16": self.args.bf16, "fp16": self.args.fp16,
                       "gradient_checkpointing": self.args.gradient_checkpointing, "padding_free": self.args.padding_free,
                       "trainable_dtypes": dict(collections.Counter(str(p.dtype) for p in self.model.parameters() if p.requires_grad)),
                       "modules": types(self.model), "best_model_checkpoint": self.state.best_model_checkpoint}
    return out
trl.SFTTrainer.train = train
t0 = time.perf_counter()
try:
    rc = main(sys.argv[2:])
except BaseException as e:
    import traceback; traceback.print_exc(); rc = f"exception {type(e).__name__}: {e}"
info.update(rc=rc, wall_s=round(time.perf_counter() - t0, 1))
if torch.cuda.is_available():
    info["max_memory_allocated_MiB"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    info["max_memory_reserved_MiB"] = round(torch.cuda.max_memory_reserved() / 2**20, 1)
json.dump(info, open(out_json, "w"), indent=2, default=str); print(json.dumps(info, default=str)[:3000])
sys.exit(0 if rc == 0 else 1)
EOF

# 2. reranker adapter through the CLI with the repo's params (load_in_4bit/dtype/optim/padding all `auto`)
step train_reranker $PY "$W/probe.py" "$L/probe_reranker.json" train reranker --output-dir "$W/reranker/adapter" \
  --max-examples "$N_RERANK" --epochs 1 --metrics "$L/metrics_reranker.json"
# 2b. as the DVC stage trains: --eval-data (eval-loss checkpoint choice, load_best_model_at_end on the 4-bit model,
# early stopping, reranker P(Yes) accuracy on val)
step train_reranker_eval $PY "$W/probe.py" "$L/probe_reranker_eval.json" train reranker --output-dir "$W/reranker-eval/adapter" \
  --max-examples "$N_RERANK" --epochs 1 --eval-data data/split/reranker/val.jsonl --eval-steps 10 --save-steps 10 \
  --metrics "$L/metrics_reranker_eval.json"

# 3. plain reload on the full-precision base (no medtune code) and one P(Yes) score
step reload $PY - "$W/reranker/adapter" <<'EOF'
import sys, torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer
from medtune.train.scoring import yes_probabilities
dev = "cuda" if torch.cuda.is_available() else "cpu"
model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained("models/base/tiny-lm"), sys.argv[1]).to(dev)
tok = AutoTokenizer.from_pretrained(sys.argv[1])
pairs = [("The patient is 54 years old. Latest HbA1c was 7.2%.", "HbA1c below 8%"), ("Never smoked.", "Current smoker")]
print("P(Yes) on", dev, yes_probabilities(model, tok, pairs, 384))
EOF

# 4. merge: a 4-bit base must be refused (expect rc=2 and the message); fp32 and bf16 merges report max |diff|
step save_4bit_base $PY - "$W/base-4bit" <<'EOF'
import sys, torch
from transformers import AutoModelForCausalLM, BitsAndBytesConfig
q = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=torch.bfloat16)
m = AutoModelForCausalLM.from_pretrained("models/base/tiny-lm", quantization_config=q, device_map={"": 0 if torch.cuda.is_available() else "cpu"})
m.save_pretrained(sys.argv[1]); print("saved 4-bit base, is_loaded_in_4bit =", m.is_loaded_in_4bit)
EOF
step merge_4bit_refused $PY -m medtune.cli merge --adapter "$W/reranker/adapter" --base-model "$W/base-4bit" --output-dir "$W/m4"
step merge_fp32 $PY -m medtune.cli merge --adapter "$W/reranker/adapter" --output-dir "$W/merged-fp32"
step merge_bf16 $PY -m medtune.cli merge --adapter "$W/reranker/adapter" --output-dir "$W/merged-bf16" --dtype bf16

# 5. endpoints (params: optim auto, modules_to_save lm_head) through the same probe
step train_endpoints $PY "$W/probe.py" "$L/probe_endpoints.json" train endpoints --output-dir "$W/endpoints/adapter" \
  --max-examples "$N_END" --epochs 1 --metrics "$L/metrics_endpoints.json"
step merge_endpoints_fp32 $PY -m medtune.cli merge --adapter "$W/endpoints/adapter" --output-dir "$W/endpoints/merged"

# 6. the tests nearest the GPU paths, on the GPU (do any assume CPU?), bounded in time
if [ -z "${NO_TESTS:-}" ]; then
  step pytest_fast timeout 90 $PY -m pytest -q -p no:cacheprovider --timeout 80 tests/test_lm_config.py tests/test_lm_merge_scoring.py
  step pytest_slow timeout 200 $PY -m pytest -q -p no:cacheprovider --timeout 120 tests/test_lm_train.py tests/test_extraction_train.py
fi

# summary: step statuses + probes + metrics in one JSON; all logs in one archive
$PY - "$L" "$OUT/summary.json" <<'EOF'
import json, pathlib, sys
logs = pathlib.Path(sys.argv[1]); s = {"steps": dict(l.split("\t", 1) for l in (logs / "steps.tsv").read_text().splitlines())}
for p in sorted(logs.glob("*.json")):
    try: s[p.stem] = json.loads(p.read_text())
    except Exception as e: s[p.stem] = repr(e)
pathlib.Path(sys.argv[2]).write_text(json.dumps(s, indent=2, default=str)); print(json.dumps(s["steps"], indent=1))
EOF
tar czf "$OUT/logs.tgz" -C "$W" logs
