"""What every task's evaluation shares: flat metric keys with bootstrap CIs, paired deltas, the seen/unseen split
of the test rows, and the one rich table per task.

Key layout (HELPERS.md, read by `dvc metrics diff` and `medtune.evaluate.report`): `<metric>` for the fine-tuned
model, `<prefix><metric>` for a reference system (`base_`, `majority_`, `lexical_`, ...), each with
`_ci_low`/`_ci_high` (95% percentile bootstrap, seeded), and `delta_<metric>_vs_<ref>_ci_low/high` from a paired
bootstrap on the same resamples (low > 0: the fine-tuned model is really better).

A metric here is a function of an index array into the scored items (`fn(idx) -> float`), so one helper serves
row-level metrics (accuracy: resample rows) and group-level ones (nDCG per patient: resample patients).
"""

from __future__ import annotations

from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

from medtune.evaluate.stats import bootstrap_ci, paired_bootstrap_delta

IndexMetric = Callable[[np.ndarray], float]


def read_eval_rows(train_path, test_path, max_test_rows: int = 0) -> tuple[list[dict], list[dict]]:
    """Train rows (for baselines and seen/unseen) and the first `max_test_rows` test rows (0 = all); an empty
    test split is an error naming the file, not a metric of nothing."""
    from medtune.io import read_jsonl

    train_rows, test_rows = read_jsonl(train_path), read_jsonl(test_path)
    if max_test_rows:
        test_rows = test_rows[:max_test_rows]
    if not test_rows:
        raise ValueError(f"{test_path}: no test rows")
    return train_rows, test_rows


def _round(value: float, digits: int | None) -> float:
    return float(value) if digits is None else round(float(value), digits)


def score_metrics(metrics: Mapping[str, IndexMetric], n_items: int, prefix: str, resamples: int, seed: int,
                  ci_for: Iterable[str] | None = None, digits: int | None = None, suffix: str = "",
                  point: Mapping[str, float] | None = None) -> dict:
    """`{prefix}{name}{suffix}` (+ `_ci_low`/`_ci_high` for the names in `ci_for`, default all) for each metric.

    `point` gives the reported value where it is computed another way than the resampled function (scikit-learn
    for the value, an equal numpy formula for the 1,000 resamples)."""
    ci_names = set(metrics if ci_for is None else ci_for)
    everything = np.arange(n_items)
    out = {}
    for name, fn in metrics.items():
        key = f"{prefix}{name}{suffix}"
        out[key] = _round(point[name] if point and name in point else fn(everything), digits)
        if name in ci_names:
            low, high = bootstrap_ci(fn, n_items, resamples, seed)
            out[f"{key}_ci_low"], out[f"{key}_ci_high"] = _round(low, digits), _round(high, digits)
    return out


def paired_deltas(ours: Mapping[str, IndexMetric], ref: Mapping[str, IndexMetric], ref_name: str, n_items: int,
                  resamples: int, seed: int, names: Sequence[str] | None = None, digits: int | None = None) -> dict:
    """`delta_<name>_vs_<ref_name>_ci_low/high`: CI of (ours − ref) over the same resampled items."""
    out = {}
    for name in names or list(ours):
        systems = (ours[name], ref[name])
        low, high = paired_bootstrap_delta(lambda idx, s: systems[s](idx), n_items, resamples, seed)
        out[f"delta_{name}_vs_{ref_name}_ci_low"] = _round(low, digits)
        out[f"delta_{name}_vs_{ref_name}_ci_high"] = _round(high, digits)
    return out


def label_metrics(y_true: np.ndarray, y_pred: np.ndarray, fns: Mapping[str, Callable]) -> dict[str, IndexMetric]:
    """Bind `fn(y_true, y_pred)` metrics (scikit-learn style) to index functions over the same arrays."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return {name: (lambda idx, fn=fn: fn(y_true[idx], y_pred[idx])) for name, fn in fns.items()}


def subset(metric: IndexMetric, rows: np.ndarray) -> IndexMetric:
    """The metric restricted to `rows` (indices into the full item list): resamples index into `rows`."""
    return lambda idx: metric(rows[idx])


def seen_mask(test_rows: Sequence[dict], train_rows: Sequence[dict] | None = None) -> np.ndarray | None:
    """True where a test row's generator templates and names all occur in training; None without `meta`.

    The sample generator keeps ≥25% of test templates/names out of training; scoring the two parts separately
    shows memorisation. The split stage's own verdict (`meta.unseen`) wins; otherwise the row's `template(s)` and
    `names` are looked up in the training rows. Real data has no `meta`: nothing to split on."""
    metas = [r.get("meta") if isinstance(r.get("meta"), dict) else None for r in test_rows]
    if not metas or not any(metas):
        return None
    if all(m is not None and isinstance(m.get("unseen"), bool) for m in metas):
        return np.asarray([not m["unseen"] for m in metas], dtype=bool)
    if train_rows is None:
        return None

    def vocabulary(meta: dict | None) -> tuple[set, set]:
        meta = meta or {}
        templates = set(meta.get("templates") or []) | ({meta["template"]} if meta.get("template") else set())
        return templates, set(meta.get("names") or [])

    train_templates, train_names = set(), set()
    for r in train_rows:
        templates, names = vocabulary(r.get("meta") if isinstance(r.get("meta"), dict) else None)
        train_templates |= templates
        train_names |= names
    seen = []
    for meta in metas:
        templates, names = vocabulary(meta)
        seen.append(templates <= train_templates and names <= train_names)
    return np.asarray(seen, dtype=bool)


def seen_unseen(mask: np.ndarray | None, metrics: Mapping[str, IndexMetric], resamples: int, seed: int,
                prefix: str = "", digits: int | None = None) -> dict:
    """`n_seen`/`n_unseen` and `<prefix><metric>_seen|_unseen` (+ CI) on each part of the test rows."""
    if mask is None:
        return {}
    out: dict = {}
    for part, part_mask in (("seen", mask), ("unseen", ~mask)):
        rows = np.flatnonzero(part_mask)
        out[f"n_{part}"] = int(len(rows))
        if len(rows):
            restricted = {name: subset(fn, rows) for name, fn in metrics.items()}
            out.update(score_metrics(restricted, len(rows), prefix, resamples, seed, digits=digits, suffix=f"_{part}"))
    return out


def cell(metrics: Mapping, key: str, ci: bool = True) -> str:
    """`0.812 [0.770, 0.851]` for a key with a CI, `0.812` without, '' when absent."""
    if key not in metrics or metrics[key] is None:
        return ""
    value = metrics[key]
    text = f"{value:.3f}" if isinstance(value, float) else str(value)
    if ci and f"{key}_ci_low" in metrics:
        text += f" [{metrics[key + '_ci_low']:.3f}, {metrics[key + '_ci_high']:.3f}]"
    return text


def print_table(title: str, metrics: Mapping, names: Sequence[str], references: Sequence[tuple[str, str]],
                delta_names: Sequence[str] = ()) -> None:
    """One rich table: metric | fine-tuned | 95% CI | one column per reference (value [CI]); then one line per
    (metric, reference) paired delta saying whether the fine-tuned model is better beyond the CI."""
    from rich.table import Table

    from medtune.console import console

    table = Table(title=title)
    table.add_column("metric")
    table.add_column("fine-tuned", justify="right")
    table.add_column("95% CI", justify="right")
    for label, _ in references:
        table.add_column(f"{label} [95% CI]", justify="right")
    for name in names:
        ci = f"[{metrics[name + '_ci_low']:.3f}, {metrics[name + '_ci_high']:.3f}]" if f"{name}_ci_low" in metrics else ""
        table.add_row(name, cell(metrics, name, ci=False), ci, *(cell(metrics, f"{prefix}{name}") for _, prefix in references))
    for part in ("seen", "unseen"):
        for name in names:
            if f"{name}_{part}" in metrics:
                key = f"{name}_{part}"
                ci = f"[{metrics[key + '_ci_low']:.3f}, {metrics[key + '_ci_high']:.3f}]" if f"{key}_ci_low" in metrics else ""
                table.add_row(f"{name} ({part}, n={metrics.get(f'n_{part}', '?')})", cell(metrics, key, ci=False), ci,
                              *(cell(metrics, f"{prefix}{key}") for _, prefix in references))
    console.print(table)
    for name in delta_names:
        for label, prefix in references:
            low_key = f"delta_{name}_vs_{prefix.rstrip('_')}_ci_low"
            if low_key not in metrics:
                continue
            low, high = metrics[low_key], metrics[low_key.replace("_ci_low", "_ci_high")]
            verdict = "[green]better[/]" if low > 0 else "[bold red]NOT better[/]"
            console.print(f"fine-tuned vs {label}: {name} delta 95% CI [{low:+.3f}, {high:+.3f}] → {verdict}")
