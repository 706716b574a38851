"""Two evaluation runs of one task compared on the same test rows: a paired bootstrap over their prediction files.

`make report` flags a metric change when it leaves both runs' CIs, a screen that misses real but small changes: two
runs on the same test rows share most of their sampling noise, and a paired bootstrap (the same resampled rows
scored for both) cancels it. The evaluate stages of the causal-LM tasks write their fine-tuned model's per-row
outputs to `metrics/eval/<task>_predictions.jsonl` (tracked by git), so any two revisions or experiments can be
paired:

    python -m medtune.evaluate.paired main                  # every task: main vs the workspace
    python -m medtune.evaluate.paired main chem-pseudo-25   # a revision vs a DVC experiment (by name)
    python -m medtune.evaluate.paired HEAD~3 --task chem-ner

Each task's metrics are recomputed from the stored outputs with the scoring code of its evaluate stage. Rows are
matched by id (the normalized hash of a row's input); runs whose test rows differ are not paired, and say so.
chem-ner's output filter needs each article, read from the workspace's test split by id.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from medtune.evaluate.common import IndexMetric
from medtune.evaluate.stats import paired_bootstrap_delta
from medtune.io import InputError

WORKSPACE = "workspace"
PREDICTIONS = "metrics/eval/{task}_predictions.jsonl"
TEST_SPLIT = "data/split/{task}/test.jsonl"
# Metrics where a lower value is the better one (the verdict flips).
LOWER_IS_BETTER = frozenset({"false_refusal_rate"})


@dataclass
class PairedResult:
    task: str
    metric: str
    old: float
    new: float
    low: float  # 95% CI of new - old on the same resampled rows
    high: float

    @property
    def verdict(self) -> str:
        if self.low == self.high == 0 and self.old == self.new:
            return "no change"  # no resample moves it: the same per-row scores (typically the same outputs)
        if self.low > 0 or self.high < 0:
            improved = (self.low > 0) != (self.metric in LOWER_IS_BETTER)
            return "better" if improved else "worse"
        return "not distinguishable"


@dataclass
class Skipped:
    task: str
    reason: str


# ---- per-task metrics from a predictions file ---------------------------------------------------------------------


def _reranker(rows: Sequence[dict], cwd: Path) -> dict[str, IndexMetric]:
    from medtune.evaluate import binary
    from medtune.evaluate.common import label_metrics

    y_true = np.asarray([r["label"] == "Yes" for r in rows], int)
    p_yes = np.asarray([r["finetuned_p_yes"] for r in rows], float)
    return label_metrics(y_true, p_yes, {k: binary.RESAMPLE_METRICS[k] for k in ("accuracy", "f1", "auroc")})


def _cot(rows: Sequence[dict], cwd: Path) -> dict[str, IndexMetric]:
    from medtune.evaluate.cot import output_metrics

    metrics = output_metrics(np.asarray([r["gold"] for r in rows]), [r["output"] for r in rows])
    return {k: metrics[k] for k in ("accuracy", "macro_f1", "parse_rate")}


def _masked_mean(values: np.ndarray, mask: np.ndarray) -> IndexMetric:
    """Mean of `values` over the resampled rows inside `mask` (NaN when a resample holds none: skipped)."""
    return lambda idx: float(values[idx][mask[idx]].mean()) if mask[idx].any() else float("nan")


def _qa(rows: Sequence[dict], cwd: Path) -> dict[str, IndexMetric]:
    from medtune.evaluate.qa import judge, metric_values

    unsafe = np.asarray([bool(r["unsafe"]) for r in rows])
    judged = judge([r["answer"] for r in rows], None, [r["reference"] for r in rows])
    values = metric_values(judged, unsafe, np.zeros_like(unsafe))
    return {k: _masked_mean(*values[k]) for k in ("refusal_rate", "false_refusal_rate", "decision_accuracy", "rouge_l")}


def _endpoints(rows: Sequence[dict], cwd: Path) -> dict[str, IndexMetric]:
    from medtune.evaluate.endpoints import EndpointScores, index_metrics

    scores = EndpointScores.from_outputs([r["prediction"] for r in rows], [{"output": r["gold"]} for r in rows])
    return index_metrics(scores, ("endpoint_f1", "field_accuracy", "json_validity"))


def _chem_ner(rows: Sequence[dict], cwd: Path) -> dict[str, IndexMetric]:
    from medtune.evaluate.chem_ner import TASKS, TaskCounts, extract
    from medtune.io import read_jsonl

    split = cwd / TEST_SPLIT.format(task="chem-ner")
    if not split.exists():
        raise InputError(f"{split}: chem-ner's output filter needs the test articles (run `dvc repro split` first)")
    articles = {r["id"]: r for r in read_jsonl(split)}
    missing = [r["id"] for r in rows if r["id"] not in articles]
    if missing:
        raise InputError(f"{split}: {len(missing)} predicted row(s) are not in this test split, e.g. id {missing[0]}")
    test_rows = [articles[r["id"]] for r in rows]
    counts = TaskCounts.from_sets(test_rows, extract([r["prediction"] for r in rows], test_rows).filtered)
    per_task = {f"{task}_f1": (lambda idx, t=t: counts.prf(t, idx)[2]) for t, task in enumerate(TASKS)}
    return {"macro_f1": counts.macro_f1, **per_task}


METRICS: dict[str, Callable[[Sequence[dict], Path], dict[str, IndexMetric]]] = {
    "reranker": _reranker,
    "cot": _cot,
    "qa": _qa,
    "endpoints": _endpoints,
    "chem-ner": _chem_ner,
}


# ---- reading runs --------------------------------------------------------------------------------------------------


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)


def resolve(rev: str, cwd: Path) -> str:
    """A git revision, or the name of a DVC experiment (`dvc exp run -n NAME`; its ref is refs/exps/../NAME)."""
    found = _git(cwd, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if found.returncode == 0:
        return found.stdout.strip()
    refs = [line.split() for line in _git(cwd, "for-each-ref", "--format=%(objectname) %(refname)", "refs/exps").stdout.splitlines()]
    matches = [sha for sha, ref in refs if ref.rsplit("/", 1)[-1] == rev]
    if len(matches) == 1:
        return matches[0]
    raise InputError(f"{rev!r} is neither a git revision nor a DVC experiment name" if not matches
                     else f"{rev!r} names {len(matches)} DVC experiments; pass the commit (`dvc exp show --sha`)")


def read_predictions(task: str, rev: str, cwd: Path) -> list[dict] | None:
    """The task's prediction rows at `rev` (WORKSPACE: the files on disk); None when that run has none."""
    path = PREDICTIONS.format(task=task)
    if rev == WORKSPACE:
        file = cwd / path
        if not file.exists():
            return None
        text, where = file.read_text(encoding="utf-8"), str(file)
    else:
        shown = _git(cwd, "show", f"{rev}:{path}")
        if shown.returncode != 0:
            return None
        text, where = shown.stdout, f"{rev}:{path}"
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InputError(f"{where}:{number}: not valid JSON ({exc.msg})") from exc
    return rows


def compare_rows(task: str, old: Sequence[dict], new: Sequence[dict], cwd: Path, resamples: int = 1000,
                 seed: int = 42) -> list[PairedResult] | Skipped:
    """Paired CIs of new − old for `task`'s metrics, on the rows both runs scored (which must be the same rows)."""
    if any("id" not in r for r in (*old, *new)):
        return Skipped(task, "a prediction row has no id: not paired")
    old_ids, new_ids = [r["id"] for r in old], [r["id"] for r in new]
    if set(old_ids) != set(new_ids) or len(set(new_ids)) != len(new_ids):
        return Skipped(task, f"the runs scored different test rows ({len(old_ids)} vs {len(new_ids)}, "
                             f"{len(set(old_ids) & set(new_ids))} shared): not paired")
    by_id = {r["id"]: r for r in old}
    try:
        systems = (METRICS[task]([by_id[i] for i in new_ids], cwd), METRICS[task](new, cwd))
    except (InputError, KeyError) as exc:  # a file from another layout, or chem-ner without its test split
        return Skipped(task, f"cannot score the prediction files: {exc if isinstance(exc, InputError) else f'no field {exc}'}")
    everything = np.arange(len(new_ids))
    results = []
    for name in systems[1]:
        pair = (systems[1][name], systems[0][name])
        low, high = paired_bootstrap_delta(lambda idx, s: pair[s](idx), len(new_ids), resamples, seed)
        results.append(PairedResult(task, name, pair[1](everything), pair[0](everything), low, high))
    return results


def compare(old_rev: str, new_rev: str = WORKSPACE, tasks: Sequence[str] | None = None, cwd: Path | str = ".",
            resamples: int = 1000, seed: int = 42) -> list[PairedResult | Skipped]:
    """For each task (default: every task with a predictions file in either run): its paired results, or why not."""
    cwd = Path(cwd)
    revs = [r if r == WORKSPACE else resolve(r, cwd) for r in (old_rev, new_rev)]
    out: list[PairedResult | Skipped] = []
    for task in tasks or METRICS:
        if task not in METRICS:
            raise InputError(f"no paired comparison for task {task!r}; known: {', '.join(METRICS)}")
        old, new = (read_predictions(task, rev, cwd) for rev in revs)
        if old is None or new is None:
            if tasks or old is not new:  # asked for by name, or only one run has it: say which lacks it
                out.append(Skipped(task, f"no {PREDICTIONS.format(task=task)} in {old_rev if old is None else new_rev}"))
            continue
        compared = compare_rows(task, old, new, cwd, resamples, seed)
        out.extend(compared if isinstance(compared, list) else [compared])
    return out


def render(old_rev: str, new_rev: str, results: Sequence[PairedResult | Skipped]) -> list[str]:
    """Markdown lines: one table row per metric, then the tasks that could not be paired."""
    paired = [r for r in results if isinstance(r, PairedResult)]
    lines = [f"| task | metric | {old_rev} | {new_rev} | 95% CI of {new_rev} − {old_rev} | verdict |",
             "|---|---|---:|---:|---:|---|"] if paired else []
    for r in paired:
        shown = f"**{r.verdict}**" if r.verdict in ("better", "worse") else r.verdict
        lines.append(f"| {r.task} | {r.metric} | {r.old:.4g} | {r.new:.4g} | [{r.low:+.4g}, {r.high:+.4g}] | {shown} |")
    skipped = [f"- {r.task}: {r.reason}" for r in results if isinstance(r, Skipped)]
    return lines + ([""] if lines and skipped else []) + skipped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m medtune.evaluate.paired", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old", help="git revision or DVC experiment name of the reference run")
    parser.add_argument("new", nargs="?", default=WORKSPACE, help="the run compared with it (default: the workspace files)")
    parser.add_argument("--task", action="append", choices=list(METRICS), help="limit to these tasks (repeatable)")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (default 1000)")
    parser.add_argument("--seed", type=int, default=42, help="bootstrap seed (default 42)")
    args = parser.parse_args(argv)
    from medtune.console import console, print_error

    try:
        results = compare(args.old, args.new, args.task, ".", args.resamples, args.seed)
    except InputError as exc:
        print_error(exc)
        return 2
    lines = render(args.old, args.new, results)
    if not lines:
        console.print(f"no task has predictions in both {args.old} and {args.new}")
    print("\n".join(lines))  # the table is the output (stdout, markdown); the console writes to stderr
    return 0


if __name__ == "__main__":
    sys.exit(main())
