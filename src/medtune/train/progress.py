"""A transformers `TrainerCallback` that draws training progress with medtune's rich console (stderr).

transformers only ships tqdm bars (stdout-hostile in DVC logs) and TRL's rich callback writes to its own stdout
console and ignores whether a terminal is attached, so this one reuses `medtune.console.progress()`.
"""

from __future__ import annotations

from transformers import TrainerCallback


class RichProgressCallback(TrainerCallback):
    def __init__(self, description: str = "training"):
        self.description = description
        self._bar = None
        self._task = None

    def on_train_begin(self, args, state, control, **kwargs):
        from medtune.console import progress

        if state.is_world_process_zero:
            self._bar = progress()
            self._bar.start()
            self._task = self._bar.add_task(self.description, total=state.max_steps)

    def on_step_end(self, args, state, control, **kwargs):
        if self._bar is not None:
            self._bar.update(self._task, completed=state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self._bar is not None and logs:
            shown = {k: v for k, v in logs.items() if k in ("loss", "eval_loss", "eval_accuracy")}
            if shown:
                text = " ".join(f"{k}={v:.4g}" for k, v in shown.items())
                self._bar.update(self._task, description=f"{self.description} {text}")

    def on_train_end(self, args, state, control, **kwargs):
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
