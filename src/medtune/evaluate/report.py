"""`make report` / `python -m medtune.evaluate.report --rev main`: metrics/report.md comparing the workspace with a
git revision, telling signal from noise.

For every metric that changed (`dvc metrics diff <rev> --json --all`), the change is flagged against the 95%
bootstrap CI the evaluation stored next to it (`<metric>_ci_low` / `<metric>_ci_high`):
- **outside CI**: the workspace value lies outside the CI of `<rev>` (and, when the workspace has a CI too, the
  `<rev>` value lies outside it) — larger than the resampling noise of either run;
- within CI (noise): the new value is inside the old run's CI (or the old one inside the new CI);
- within seed spread (noise): outside the CIs, but no larger than the range that metric showed across training
  seeds (`metrics/seed_spread.json`, written by `make seeds`): retraining alone moves it that far;
- no CI: the metric has no stored interval (counts, timings, training losses).
Two overlapping-CI checks are a screen for reviewers, not a test. The paired comparison on the same test rows comes
next: for every task whose prediction file exists in both runs, `medtune.evaluate.paired` rescores both files on
the same bootstrap resamples (workspace − rev), which is what `delta_*_vs_*` does against the baselines within one
run; the report lists those within-run verdicts too. It then appends
`dvc metrics diff --md` and `dvc params diff --md` as DVC prints them. The CI workflow posts the file with CML.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from medtune.evaluate import paired
from medtune.io import InputError, atomic_path

CI_SUFFIXES = ("_ci_low", "_ci_high")
DEFAULT_OUT = Path("metrics/report.md")
SEED_SPREAD = Path("metrics/seed_spread.json")  # written by `make seeds` (medtune.evaluate.seeds)


class DvcError(RuntimeError):
    pass


def dvc(*args: str, cwd: Path | str = ".") -> str:
    """Run `python -m dvc ARGS` (the dvc of this interpreter's environment) and return stdout."""
    result = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise DvcError(f"dvc {' '.join(args)} failed (exit {result.returncode}): {result.stderr.strip()[-2000:]}")
    return result.stdout


@dataclass
class Change:
    path: str
    metric: str
    old: float | None
    new: float | None
    verdict: str  # "outside CI" | "within seed spread" | "within CI" | "no CI" | "added" | "removed"
    old_ci: tuple[float, float] | None
    new_ci: tuple[float, float] | None
    seed_range: float | None = None

    @property
    def diff(self) -> float | None:
        return None if self.old is None or self.new is None else self.new - self.old


def as_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def _ci(entries: Mapping[str, dict], metric: str, side: str) -> tuple[float, float] | None:
    low, high = (as_number((entries.get(f"{metric}{s}") or {}).get(side)) for s in CI_SUFFIXES)
    return (low, high) if low is not None and high is not None else None


def _inside(value: float, ci: tuple[float, float], tolerance: float = 1e-12) -> bool:
    return ci[0] - tolerance <= value <= ci[1] + tolerance


def classify(old: float | None, new: float | None, old_ci, new_ci, seed_range: float | None = None) -> str:
    if old is None:
        return "added"
    if new is None:
        return "removed"
    checks = ([not _inside(new, old_ci)] if old_ci else []) + ([not _inside(old, new_ci)] if new_ci else [])
    if not checks:
        return "no CI"
    if not all(checks):
        return "within CI"
    return "within seed spread" if seed_range is not None and abs(new - old) <= seed_range + 1e-12 else "outside CI"


def load_seed_ranges(path: Path | str = SEED_SPREAD) -> dict[str, dict[str, float]]:
    """metrics file -> metric -> seed range, from a recorded seed_spread.json (empty when there is none)."""
    path = Path(path)
    if not path.exists():
        return {}
    try:
        recorded = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from exc
    return {file: {metric: float(s["range"]) for metric, s in (entry.get("metrics") or {}).items()}
            for file, entry in recorded.items()}


def changes_from_diff(diff: Mapping[str, Mapping[str, dict]], seed_ranges: Mapping[str, Mapping[str, float]] | None = None) -> list[Change]:
    """Changed numeric metrics (CI bounds themselves and `delta_*` intervals are context, not rows). `seed_ranges`:
    metrics file -> metric -> range across training seeds (`load_seed_ranges`)."""
    seed_ranges = seed_ranges or {}
    out = []
    for path, entries in sorted(diff.items()):
        for metric, entry in sorted(entries.items()):
            if metric.endswith(CI_SUFFIXES) or not isinstance(entry, dict):
                continue
            old, new = as_number(entry.get("old")), as_number(entry.get("new"))
            if old is None and new is None or old == new:
                continue
            old_ci, new_ci = _ci(entries, metric, "old"), _ci(entries, metric, "new")
            seed_range = (seed_ranges.get(path) or {}).get(metric)
            out.append(Change(path, metric, old, new, classify(old, new, old_ci, new_ci, seed_range), old_ci, new_ci, seed_range))
    return out


def delta_verdicts(metrics_files: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str, str, float, float, str]]:
    """(path, metric, reference, low, high, verdict) for every `delta_<metric>_vs_<ref>` CI in the workspace."""
    rows = []
    for path, values in sorted(metrics_files.items()):
        for key in sorted(values):
            if not (key.startswith("delta_") and key.endswith("_ci_low")):
                continue
            low, high = as_number(values.get(key)), as_number(values.get(key[: -len("_ci_low")] + "_ci_high"))
            if low is None or high is None:
                continue
            metric, _, ref = key[len("delta_"): -len("_ci_low")].partition("_vs_")
            verdict = "better" if low > 0 else "worse" if high < 0 else "not distinguishable"
            rows.append((path, metric, ref, low, high, verdict))
    return rows


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def _fmt_ci(ci: tuple[float, float] | None) -> str:
    return "—" if ci is None else f"[{ci[0]:.4g}, {ci[1]:.4g}]"


def render(rev: str, changes: list[Change], deltas: list, metrics_md: str, params_md: str, paired_lines: Sequence[str] = ()) -> str:
    flagged = [c for c in changes if c.verdict == "outside CI"]
    lines = [
        f"# Metrics report: `{rev}` → workspace",
        "",
        f"{len(changes)} metric(s) changed; **{len(flagged)} outside the 95% bootstrap CI** (signal), "
        f"{sum(c.verdict == 'within CI' for c in changes)} within it (noise), "
        f"{sum(c.verdict == 'within seed spread' for c in changes)} outside it but within the seed spread (noise), "
        f"{sum(c.verdict == 'no CI' for c in changes)} without a CI, "
        f"{sum(c.verdict in ('added', 'removed') for c in changes)} added/removed.",
        "",
    ]
    if changes:
        lines += [
            f"| file | metric | {rev} | workspace | change | 95% CI ({rev}) | 95% CI (workspace) | seed range | verdict |",
            "|---|---|---:|---:|---:|---:|---:|---:|---|",
        ]
        order = {"outside CI": 0, "within seed spread": 1, "within CI": 2, "added": 3, "removed": 4, "no CI": 5}
        for c in sorted(changes, key=lambda c: (order[c.verdict], c.path, c.metric)):
            verdict = f"**{c.verdict}**" if c.verdict == "outside CI" else c.verdict
            change = "—" if c.diff is None else f"{c.diff:+.4g}"
            lines.append(f"| {c.path} | {c.metric} | {_fmt(c.old)} | {_fmt(c.new)} | {change} | {_fmt_ci(c.old_ci)} | "
                         f"{_fmt_ci(c.new_ci)} | {_fmt(c.seed_range)} | {verdict} |")
        lines.append("")
    if paired_lines:
        lines += [f"## Workspace vs `{rev}` on the same test rows (paired bootstrap over the prediction files)", "",
                  *paired_lines, ""]
    if deltas:
        lines += [
            "## Fine-tuned vs references in the workspace (paired bootstrap on the same test rows)",
            "",
            "| file | metric | vs | 95% CI of fine-tuned − reference | verdict |",
            "|---|---|---|---:|---|",
        ]
        for path, metric, ref, low, high, verdict in deltas:
            shown = f"**{verdict}**" if verdict != "better" else verdict
            lines.append(f"| {path} | {metric} | {ref} | [{low:+.4g}, {high:+.4g}] | {shown} |")
        lines.append("")
    lines += ["<details><summary><code>dvc metrics diff " + rev + " --md</code></summary>", "", metrics_md.strip() or "(no changes)",
              "", "</details>", "", f"## Params (`dvc params diff {rev}`)", "", params_md.strip() or "(no changes)", ""]
    return "\n".join(lines)


def workspace_metrics(diff_all: Mapping[str, Mapping[str, dict]]) -> dict[str, dict]:
    return {path: {k: e.get("new") for k, e in entries.items() if isinstance(e, dict)} for path, entries in diff_all.items()}


def build_report(rev: str = "main", out: Path | str = DEFAULT_OUT, cwd: Path | str = ".") -> tuple[str, list[Change]]:
    """Write the report to `cwd/out`; returns (markdown, changed metrics)."""
    diff_all = json.loads(dvc("metrics", "diff", rev, "--json", "--all", cwd=cwd) or "{}")
    changes = changes_from_diff(diff_all, load_seed_ranges(Path(cwd) / SEED_SPREAD))
    paired_lines = paired.render(rev, paired.WORKSPACE, paired.compare(rev, paired.WORKSPACE, cwd=cwd))
    text = render(rev, changes, delta_verdicts(workspace_metrics(diff_all)),
                  dvc("metrics", "diff", rev, "--md", cwd=cwd), dvc("params", "diff", rev, "--md", cwd=cwd), paired_lines)
    target = Path(cwd) / out
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return text, changes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m medtune.evaluate.report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rev", default="main", help="git revision to compare the workspace with (default: main)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"markdown file to write (default: {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    from medtune.console import console, print_error

    try:
        _, changes = build_report(args.rev, args.out)
    except (DvcError, InputError) as exc:
        print_error(exc)
        return 2
    flagged = sum(c.verdict == "outside CI" for c in changes)
    console.print(f"wrote {args.out}: {len(changes)} metric(s) changed vs {args.rev}, {flagged} outside the 95% CI")
    return 0


if __name__ == "__main__":
    sys.exit(main())
