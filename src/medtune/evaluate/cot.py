"""Chain-of-thought eligibility evaluation (metrics/eval/cot.json): verdict accuracy and how many outputs parse.

Each test row is answered greedily with the exact runtime prompt (`prompts.cot_messages`, rebuilt from the row's
"Criterion: …\n\nPatient: …" user turn, or from the patient-first one; a row in another format keeps its own
prompt, and `runtime_prompt_share` says how many used the runtime one). The verdict is read with
`prompts.parse_cot_verdict` — the parser serving uses — and an output whose verdict does not parse counts as wrong. Reported per system:
- `accuracy` (verdict), `macro_f1` over met / not_met / unknown (scikit-learn; an unparsed output is a miss);
- `parse_rate`: share of outputs whose verdict parses (target ≥ 0.99; the seed system lost ~8% here) and
  `json_rate`: share that are a strict JSON object with a valid verdict (the rest parse only through the
  field-level fallback). `n_parse_failures` counts the outputs that did not parse.
The gold verdict is the row's assistant answer (the messages are the truth), else its `label`; rows with neither
are left out and counted (`n_unlabeled`).
With `constrained` (`eval.cot.constrained`, default on) both models decode under the answer's JSON schema
(`prompts.COT_ANSWER_SCHEMA`, `evaluate.constrained`): the end token is held back until the JSON closes, so only an
answer cut by `max_new_tokens` can fail to parse. The fine-tuned adapter is then also run free (system `free_`), so
the table shows what the adapter writes on its own and what the constraint changes (paired deltas `..._vs_free`).
Systems: fine-tuned adapter, untuned base (adapter disabled), the training split's most frequent verdict, and a
lexical rule (criterion words absent from the patient text → unknown; present in a negated sentence → not_met;
else met; the overlap cut is tuned on the training rows). Baselines answer in the same JSON and go through the same
parser.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np

from medtune import prompts
from medtune.evaluate import common, lexical
from medtune.evaluate.constrained import JsonAnswer, generate_systems
from medtune.io import InputError, read_jsonl

log = logging.getLogger(__name__)

UNPARSED = "unparsed"
HEADLINE = ("accuracy", "macro_f1", "parse_rate", "json_rate")
REFERENCES = (("untuned base", "base_"), ("majority", "majority_"), ("lexical rule", "lexical_"))
FREE = ("free decoding", "free_")  # the fine-tuned adapter without the schema constraint
COT_ANSWER = JsonAnswer(prompts.COT_ANSWER_SCHEMA, prompts.COT_ANSWER_SEPARATORS)


# ---- rows ------------------------------------------------------------------------------------------------------


def split_user_turn(row: dict) -> tuple[str, str] | None:
    """(criterion, patient text) of a row whose last user turn has the runtime format (either order), else None."""
    users = [m for m in row["messages"] if m.get("role") == "user"]
    return prompts.split_cot_user_turn(users[-1]["content"]) if users else None


def runtime_prompt(row: dict) -> tuple[list[dict], bool]:
    """(prompt messages, True when it is the exact runtime prompt `prompts.cot_messages`)."""
    parts = split_user_turn(row)
    if parts is None:
        return [dict(m) for m in row["messages"][:-1]], False
    criterion, patient = parts
    return prompts.cot_messages(patient, criterion), True


def gold_verdict(row: dict) -> str | None:
    verdict = prompts.parse_cot_verdict(row["messages"][-1]["content"]) if row["messages"][-1].get("role") == "assistant" else None
    if verdict is None and row.get("label") in prompts.COT_VERDICTS:
        verdict = row["label"]
    return verdict


def read_cot_rows(path: Path | str) -> list[dict]:
    rows = read_jsonl(path)
    for number, row in enumerate(rows, start=1):
        messages = row.get("messages")
        if not isinstance(messages, list) or len(messages) < 2 or not all(isinstance(m, dict) and isinstance(m.get("content"), str) for m in messages):
            raise InputError(f"{path}: row {number} needs 'messages' (a prompt and an assistant answer)")
    return rows


# ---- parsing ---------------------------------------------------------------------------------------------------


def strict_json_verdict(output: str) -> bool:
    """The whole output is a JSON object whose `verdict` is one of the verdicts."""
    try:
        value = json.loads(output.strip())
    except json.JSONDecodeError:
        return False
    return isinstance(value, dict) and value.get("verdict") in prompts.COT_VERDICTS


def parsed_verdicts(outputs: Sequence[str]) -> np.ndarray:
    return np.asarray([prompts.parse_cot_verdict(o) or UNPARSED for o in outputs], dtype=object)


def parse_failures(outputs: Sequence[str]) -> int:
    return int(sum(prompts.parse_cot_verdict(o) is None for o in outputs))


# ---- baselines -------------------------------------------------------------------------------------------------


def majority_verdict(train_rows: Sequence[dict]) -> str:
    counts = Counter(v for v in map(gold_verdict, train_rows) if v is not None)
    if not counts:
        raise InputError("no labelled training rows for the majority verdict")
    return counts.most_common(1)[0][0]


def _criterion_patient(row: dict) -> tuple[str, str]:
    parts = split_user_turn(row)
    return parts if parts else (row["messages"][-2]["content"], "")


def fit_lexical_rule(train_rows: Sequence[dict]) -> float:
    """The overlap cut separating decided (met / not_met) from unknown rows with the best training accuracy."""
    labelled = [(r, v) for r in train_rows if (v := gold_verdict(r)) is not None]
    values = np.asarray([lexical.overlap(*_criterion_patient(r)) for r, _ in labelled])
    return lexical.best_threshold(values, np.asarray([v != "unknown" for _, v in labelled]))


def lexical_rule_verdict(row: dict, cut: float) -> str:
    criterion, patient = _criterion_patient(row)
    if lexical.overlap(criterion, patient) < cut or cut == np.inf:
        return "unknown"
    return "not_met" if lexical.negated(lexical.matching_sentences(criterion, patient)) else "met"


# ---- scoring ---------------------------------------------------------------------------------------------------


def accuracy(gold: np.ndarray, predicted: np.ndarray) -> float:
    from sklearn.metrics import accuracy_score

    return float(accuracy_score(gold, predicted))


def macro_f1(gold: np.ndarray, predicted: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(gold, predicted, labels=list(prompts.COT_VERDICTS), average="macro", zero_division=0))


def _macro_f1_np(gold_codes: np.ndarray, predicted_codes: np.ndarray) -> float:
    """`macro_f1` on integer codes (0..2 = the verdicts, 3 = unparsed) in numpy, for bootstrap resamples:
    scikit-learn's per-call checks cost ~5 ms here (see `evaluate.binary`). Tested equal to `macro_f1`."""
    scores = []
    for code in range(len(prompts.COT_VERDICTS)):
        tp = np.sum((gold_codes == code) & (predicted_codes == code))
        wrong = np.sum((gold_codes == code) != (predicted_codes == code))
        scores.append(2 * tp / (2 * tp + wrong) if tp + wrong else 0.0)
    return float(np.mean(scores))


def _codes(verdicts: np.ndarray) -> np.ndarray:
    order = {v: i for i, v in enumerate((*prompts.COT_VERDICTS, UNPARSED))}
    return np.asarray([order[v] for v in verdicts])


def output_metrics(gold: np.ndarray, outputs: Sequence[str]) -> dict:
    """Index metrics of one system's raw outputs against the gold verdicts (numpy, for resampling)."""
    predicted = parsed_verdicts(outputs)
    gold_codes, predicted_codes = _codes(gold), _codes(predicted)
    parsed = predicted != UNPARSED
    strict = np.asarray([strict_json_verdict(o) for o in outputs])
    return {
        "accuracy": lambda idx: float(np.mean(gold_codes[idx] == predicted_codes[idx])),
        "macro_f1": lambda idx: _macro_f1_np(gold_codes[idx], predicted_codes[idx]),
        "parse_rate": lambda idx: float(parsed[idx].mean()),
        "json_rate": lambda idx: float(strict[idx].mean()),
    }


def point_values(gold: np.ndarray, outputs: Sequence[str]) -> dict:
    """The reported accuracy and macro F1, from scikit-learn."""
    predicted = parsed_verdicts(outputs)
    return {"accuracy": accuracy(gold, predicted), "macro_f1": macro_f1(gold, predicted)}


def score_cot(gold: np.ndarray, systems: dict[str, Sequence[str]], resamples: int, seed: int, digits: int = 4) -> dict:
    fns = {prefix: output_metrics(gold, outputs) for prefix, outputs in systems.items()}
    metrics: dict = {"n_test": int(len(gold))}
    for prefix, outputs in systems.items():
        metrics.update(common.score_metrics(fns[prefix], len(gold), prefix, resamples, seed, digits=digits,
                                            point=point_values(gold, outputs)))
        metrics[f"{prefix}n_parse_failures"] = parse_failures(outputs)
    for prefix in systems:
        if prefix:
            metrics.update(common.paired_deltas(fns[""], fns[prefix], prefix.rstrip("_"), len(gold), resamples, seed,
                                                ("accuracy", "macro_f1"), digits))
    predicted = parsed_verdicts(systems[""])
    for verdict in prompts.COT_VERDICTS:
        from sklearn.metrics import f1_score

        metrics[f"f1_{verdict}"] = round(float(f1_score(gold == verdict, predicted == verdict, zero_division=0)), digits)
    return metrics


def write_confusion(gold: np.ndarray, outputs: Sequence[str], path: Path | str) -> None:
    from medtune.io import write_json

    write_json(path, [{"actual": str(g), "predicted": str(p)} for g, p in zip(gold, parsed_verdicts(outputs))])


# ---- entry point -----------------------------------------------------------------------------------------------


def evaluate_cot(
    adapter: Path | str,
    base_model: str,
    train_path: Path | str,
    test_path: Path | str,
    max_new_tokens: int = 160,
    constrained: bool = True,
    backend: str = "transformers",
    batch_size: int = 16,
    max_test_rows: int = 0,
    bootstrap: int = 1000,
    seed: int = 42,
    confusion_path: Path | str | None = None,
    predictions_path: Path | str | None = None,
    show: bool = True,
) -> dict:
    """Generate verdicts with the adapter and the untuned base, score them next to the two baselines."""
    from medtune.evaluate.generation import open_backend

    started = time.perf_counter()
    train_rows, test_rows = read_cot_rows(train_path), read_cot_rows(test_path)
    if max_test_rows:
        test_rows = test_rows[:max_test_rows]
    labelled = [r for r in test_rows if gold_verdict(r) is not None]
    if not labelled:
        raise InputError(f"{test_path}: no test rows with a gold verdict")
    gold = np.asarray([gold_verdict(r) for r in labelled], dtype=object)
    prompts_, runtime = zip(*(runtime_prompt(r) for r in labelled))

    engine = open_backend(backend, base_model, {"cot": adapter})
    systems = generate_systems(engine, list(prompts_), max_new_tokens, "cot", batch_size,
                               COT_ANSWER if constrained else None)
    engine.close()
    generation_seconds = time.perf_counter() - started
    majority = majority_verdict(train_rows)
    cut = fit_lexical_rule(train_rows)
    systems["majority_"] = [prompts.cot_answer("most frequent training verdict", majority)] * len(labelled)
    systems["lexical_"] = [prompts.cot_answer("criterion word overlap rule", lexical_rule_verdict(r, cut)) for r in labelled]

    metrics = score_cot(gold, systems, bootstrap, seed)
    metrics["n_unlabeled"] = len(test_rows) - len(labelled)
    metrics["runtime_prompt_share"] = round(float(np.mean(runtime)), 4)
    if np.isfinite(cut):
        metrics["lexical_overlap_cut"] = round(float(cut), 4)
    headline = output_metrics(gold, systems[""])
    metrics.update(common.seen_unseen(common.seen_mask(labelled, train_rows),
                                      {k: headline[k] for k in ("accuracy", "parse_rate")}, bootstrap, seed, digits=4))
    if confusion_path:
        write_confusion(gold, systems[""], confusion_path)
    if predictions_path:
        from medtune.io import write_jsonl

        rows = [{"id": r.get("id"), "gold": g, "prompt": p, "output": o, "verdict": prompts.parse_cot_verdict(o),
                 "base_output": b, "base_verdict": prompts.parse_cot_verdict(b)}
                for r, g, p, o, b in zip(labelled, gold, prompts_, systems[""], systems["base_"])]
        for row, free in zip(rows, systems.get(FREE[1], ())):
            row |= {"free_output": free, "free_verdict": prompts.parse_cot_verdict(free)}
        write_jsonl(predictions_path, rows)
    metrics["generation_seconds"] = round(generation_seconds, 1)
    metrics["eval_runtime_s"] = round(time.perf_counter() - started, 1)
    if show:
        print_table(metrics)
    return metrics


def print_table(metrics: dict) -> None:
    constrained = "free_n_parse_failures" in metrics  # the free run exists only beside a constrained one
    free = f", free {metrics['free_n_parse_failures']}" if constrained else ""
    title = (f"cot test (n={metrics['n_test']}, {'schema-constrained' if constrained else 'free'} decoding; parse "
             f"failures: fine-tuned {metrics['n_parse_failures']}, base {metrics['base_n_parse_failures']}{free})")
    references = (*REFERENCES, FREE) if constrained else REFERENCES
    common.print_table(title, metrics, HEADLINE, references, delta_names=("accuracy",))
