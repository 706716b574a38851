"""Trainer callbacks: dvclive training curves and eval log lines (the rich bar is `medtune.train.progress`).

Hand-written small `TrainerCallback`s on purpose: transformers' own dvclive integration creates `Live()` with its
defaults, which rewrite `dvc.yaml` inside a DVC repo (FACTS.md); and its printer callback prints raw dicts to
stdout, which must stay machine-readable.
"""

from __future__ import annotations

import logging
from pathlib import Path

from transformers import TrainerCallback

log = logging.getLogger(__name__)

# Trainer log key -> dvclive metric name (plots land in <live dir>/plots/metrics/<name>.tsv).
LIVE_NAMES = {
    "loss": "train/loss",
    "mean_token_accuracy": "train/token_accuracy",
    "learning_rate": "train/learning_rate",
    "eval_loss": "eval/loss",
    "eval_mean_token_accuracy": "eval/token_accuracy",
}


class EvalLogCallback(TrainerCallback):
    """One log line per evaluation (the progress bar, `medtune.train.progress`, shows the training loss)."""

    def __init__(self, description: str):
        self.description = description

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if "eval_loss" in logs:
            accuracy = logs.get("eval_mean_token_accuracy")
            extra = f", token accuracy {accuracy:.3f}" if accuracy is not None else ""
            log.info("%s step %d: eval loss %.4f%s", self.description, state.global_step, logs["eval_loss"], extra)


class DvcLiveCallback(TrainerCallback):
    """Training curves with dvclive, indexed by optimizer step (so a resumed run continues its curves)."""

    def __init__(self, live_dir: Path | str, resume: bool = False, resume_step: int | None = None):
        from dvclive import Live

        if resume and resume_step is not None:
            drop_curve_points_after(live_dir, resume_step)

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


def drop_curve_points_after(live_dir: Path | str, step: int) -> None:
    """A killed run logged points past its last checkpoint; the resumed run logs those steps again, so the curves
    keep only points up to the checkpoint it resumes from (no duplicate steps in the plots)."""
    for tsv in Path(live_dir).glob("plots/metrics/**/*.tsv"):
        header, *rows = tsv.read_text().splitlines(keepends=True)
        names = header.rstrip("\n").split("\t")
        if "step" not in names:
            continue
        at = names.index("step")
        tsv.write_text(header + "".join(r for r in rows if r.strip() and int(float(r.split("\t")[at])) <= step))


def quiet_library_output() -> None:
    """Our rich bar replaces the libraries' tqdm bars (dataset maps, weight loading, shard writing)."""
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
