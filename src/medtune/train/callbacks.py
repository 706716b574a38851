"""Trainer callbacks: a rich progress bar in the terminal and dvclive training curves.

Both are hand-written small `TrainerCallback`s on purpose: transformers' own dvclive integration creates
`Live()` with its defaults, which rewrite `dvc.yaml` inside a DVC repo (FACTS.md); and its tqdm bar / printer
callbacks print raw dicts to stdout, which must stay machine-readable.
"""

from __future__ import annotations

import logging
from pathlib import Path

from transformers import TrainerCallback

from medtune.console import progress

log = logging.getLogger(__name__)

# Trainer log key -> dvclive metric name (plots land in <live dir>/plots/metrics/<name>.tsv).
LIVE_NAMES = {
    "loss": "train/loss",
    "mean_token_accuracy": "train/token_accuracy",
    "learning_rate": "train/learning_rate",
    "eval_loss": "eval/loss",
    "eval_mean_token_accuracy": "eval/token_accuracy",
}


class RichProgressCallback(TrainerCallback):
    """One progress bar over optimizer steps; the latest loss in its description; eval results as log lines."""

    def __init__(self, description: str):
        self.description = description
        self._progress = None
        self._task = None

    def on_train_begin(self, args, state, control, **kwargs):
        self._progress = progress()
        self._progress.start()
        self._task = self._progress.add_task(self.description, total=state.max_steps, completed=state.global_step)

    def on_step_end(self, args, state, control, **kwargs):
        if self._progress is not None:
            self._progress.update(self._task, completed=state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if self._progress is not None and "loss" in logs:
            self._progress.update(self._task, description=f"{self.description} loss {logs['loss']:.3f}")
        if "eval_loss" in logs:
            accuracy = logs.get("eval_mean_token_accuracy")
            extra = f", token accuracy {accuracy:.3f}" if accuracy is not None else ""
            log.info("%s step %d: eval loss %.4f%s", self.description, state.global_step, logs["eval_loss"], extra)

    def on_train_end(self, args, state, control, **kwargs):
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


class DvcLiveCallback(TrainerCallback):
    """Training curves with dvclive, indexed by optimizer step (so a resumed run continues its curves)."""

    def __init__(self, live_dir: Path | str, resume: bool = False):
        from dvclive import Live

        # dvcyaml=None / save_dvc_exp=False: never touch dvc.yaml or create experiments; dvc.yaml declares the plots.
        self.live = Live(dir=str(live_dir), resume=resume, dvcyaml=None, save_dvc_exp=False)

    def on_log(self, args, state, control, logs=None, **kwargs):
        values = {LIVE_NAMES[k]: v for k, v in (logs or {}).items() if k in LIVE_NAMES}
        if not values:
            return
        self.live.step = state.global_step
        for name, value in values.items():
            self.live.log_metric(name, float(value))
        self.live.make_summary()

    def on_train_end(self, args, state, control, **kwargs):
        self.live.end()


def quiet_library_output() -> None:
    """Our rich bar replaces the libraries' tqdm bars (dataset maps, weight loading, shard writing)."""
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
