"""`train.launcher`: run an SFT stage as one Python process (default) or through `accelerate launch`.

With `launcher: accelerate` the stage script re-executes itself as `accelerate launch --config_file
configs/accelerate/<train.accelerate_config>.yaml (or that path when it ends in .yaml) <the same script and arguments>`; every process then runs the
same `train_sft`, and the Trainer (through accelerate) shards the batches over them (DDP, FSDP or gloo on CPU).
The dvc.yaml command stays `python stages/train_sft.py`, so switching launcher is a params change DVC tracks.
Extra launcher flags for one machine or job (multi-node rank, address, process count) come from the environment
variable MEDTUNE_ACCELERATE_ARGS, e.g. "--num_machines 2 --machine_rank 1 --main_process_ip 10.0.0.1".
"""

from __future__ import annotations

import os
import shlex
import socket
import sys
from pathlib import Path

from medtune.config import ConfigError, TrainSettings

LAUNCHED = "MEDTUNE_LAUNCHED"  # set in the relaunched processes so they do not relaunch again
LAUNCHERS = ("python", "accelerate")
CONFIG_DIR = Path("configs/accelerate")


def accelerate_command(train: TrainSettings, program: list[str]) -> list[str]:
    """The `accelerate launch` command line for `program` (a script path and its args, or ["-m", module, ...])."""
    if train.launcher not in LAUNCHERS:
        raise ConfigError(f"train.launcher must be one of {', '.join(LAUNCHERS)}, got {train.launcher!r}")
    name = train.accelerate_config
    config = Path(name) if name.endswith(".yaml") else CONFIG_DIR / f"{name}.yaml"  # a name, or a path to a file
    if not config.is_file():
        available = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))) or "none"
        raise ConfigError(f"train.accelerate_config {train.accelerate_config!r}: {config} does not exist (available: {available})")
    extra = shlex.split(os.environ.get("MEDTUNE_ACCELERATE_ARGS", ""))
    if "--main_process_port" not in extra:  # a free port, so parallel runs on one machine do not collide
        extra += ["--main_process_port", str(_free_port())]
    return [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config), *extra, *program]


def relaunch_if_needed(train: TrainSettings, program: list[str]) -> None:
    """Replace this process by `accelerate launch ... program` when train.launcher says so (never returns then)."""
    if train.launcher == "python" or os.environ.get(LAUNCHED):
        if train.launcher not in LAUNCHERS:
            raise ConfigError(f"train.launcher must be one of {', '.join(LAUNCHERS)}, got {train.launcher!r}")
        return
    command = accelerate_command(train, program)
    sys.stderr.write(f"launching: {shlex.join(command)}\n")
    sys.stderr.flush()
    # exec, not a child process: a SIGTERM/SIGKILL sent to the stage reaches the launcher, which stops its workers
    os.execve(command[0], command, os.environ | {LAUNCHED: "1"})


def is_main_process() -> bool:
    """Rank 0 of a distributed run, or the only process. Read from the launcher's environment (no torch import)."""
    return int(os.environ.get("RANK", "0")) == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
