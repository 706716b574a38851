"""clean/validate: dedupe by normalized hash, conflicts, quarantine records and the CLI contract."""

import json
import os
import subprocess
import sys

import pytest

from medtune.data.clean import clean_files, clean_tasks


def write_lines(path, lines):
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")
    return path


def rr(patient, criterion, label):
    return {"patient_text": patient, "criterion": criterion, "label": label}


def test_dedupe_conflicts_and_quarantine(tmp_path):
    src = write_lines(tmp_path / "raw.jsonl", [
        rr("54-year-old woman.", "Age 18 to 65", "Yes"),          # 1 kept
        rr("54-year-old woman.", "Age 18 to 65", "Yes"),          # 2 exact duplicate
        rr("54-YEAR-OLD   woman. ", "age 18 to 65", "yes"),       # 3 near-duplicate (case/whitespace)
        rr("Adult man.", "HbA1c >= 7 %", "No"),                   # 4 first of a conflict → rejected too
        "{not json",                                              # 5 invalid JSON
        rr("Adult man.", "HbA1c >= 7 %", "Yes"),                  # 6 conflict
        "[1, 2]",                                                 # 7 not an object
        rr("Adult man.", "eGFR >= 60", "Maybe"),                  # 8 unknown label
        "",                                                       # blank lines are skipped, not counted
        rr("Adult woman.", "Not pregnant", "No"),                 # 10 kept
    ])
    out, quarantine = tmp_path / "clean.jsonl", tmp_path / "q.jsonl"
    report = clean_files("reranker", [src], out, quarantine)
    assert report.summary() == {"read": 9, "valid": 2, "duplicates": 2, "rejected": 5,
                                "reasons": {"conflict": 2, "invalid_json": 1, "not_an_object": 1, "unknown_label": 1}}
    kept = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["criterion"] for r in kept] == ["Age 18 to 65", "Not pregnant"]
    records = [json.loads(line) for line in quarantine.read_text().splitlines()]
    assert {(r["line"], r["reason"]) for r in records} == {(4, "conflict"), (5, "invalid_json"), (6, "conflict"), (7, "not_an_object"), (8, "unknown_label")}
    assert all(r["file"] == str(src) and isinstance(r["raw"], str) for r in records)
    assert next(r for r in records if r["line"] == 5)["raw"] == "{not json"


def test_dedupe_spans_files_and_conflicts_point_at_the_first_file(tmp_path):
    a = write_lines(tmp_path / "a.jsonl", [rr("p", "c", "Yes")])
    b = write_lines(tmp_path / "b.jsonl", [rr("P", "c ", "Yes"), rr("p", "c", "No")])
    quarantine = tmp_path / "q.jsonl"
    report = clean_files("reranker", [a, b], tmp_path / "out.jsonl", quarantine)
    assert (report.valid, report.duplicates, report.rejected) == (0, 1, 2)
    records = {(r["file"], r["line"]) for r in map(json.loads, quarantine.read_text().splitlines())}
    assert records == {(str(a), 1), (str(b), 2)}


def test_unreadable_file_creates_no_output(tmp_path):
    from medtune.io import InputError

    with pytest.raises(InputError, match="missing.jsonl"):
        clean_files("nli", [tmp_path / "missing.jsonl"], tmp_path / "out.jsonl", None)
    assert not (tmp_path / "out.jsonl").exists()


def test_clean_stage_fails_naming_the_task_and_top_reasons(tmp_path):
    raw = tmp_path / "raw"
    (raw / "nli").mkdir(parents=True)
    write_lines(raw / "nli" / "x.jsonl", [{"premise": "p", "hypothesis": f"h{i}", "label": "maybe"} for i in range(3)]
                + [{"premise": "p", "hypothesis": "ok", "label": "neutral"}])
    counts = clean_tasks(["nli"], raw, tmp_path / "clean", tmp_path / "q", max_reject_fraction=0.05)
    assert counts["nli"]["rejected"] == 3 and counts["nli"]["reject_fraction"] == 0.75
    assert len(counts["_failures"]) == 1 and "nli:" in counts["_failures"][0] and "unknown_label (3)" in counts["_failures"][0]


VALID_ROWS = {
    "reranker": {"patient_text": "p", "criterion": "c", "label": "No"},
    "nli": {"premise": "p", "hypothesis": "h", "label": "neutral"},
    "qa": {"instruction": "What is asthma?", "response": "A chronic airway disease."},
    "cot": {"instruction": "Decide.", "input": "Criterion: c\n\nPatient: p", "output": '{"reasoning": "r", "verdict": "unknown"}'},
    "ner": {"text": "EGFR positive", "ner": [[0, 4, "gene"]]},
    "endpoints": {"text": "Body height", "output": {"endpoints": [{
        "endpoint_name_standardized": "Body height", "measurement_of": "height", "measurement_type": "continuous", "metric_type": None,
        "timeframe": None, "measurement_method": "Stadiometer", "evaluation_criteria": None, "unit": "cm", "population": None,
        "is_composite": False, "components": []}]}},
}


@pytest.mark.parametrize("task", sorted(VALID_ROWS))
def test_validate_cli_contract(task, tmp_path):
    good = VALID_ROWS[task]
    path = write_lines(tmp_path / f"{task}.jsonl", [good, good, "oops", {"unrelated": 1}])
    quarantine = tmp_path / "q.jsonl"
    result = subprocess.run([sys.executable, "-m", "medtune.cli", "validate", "--task", task, str(path), "--quarantine", str(quarantine)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["read"] == 4 and summary["valid"] == 1 and summary["duplicates"] == 1 and summary["rejected"] == 2
    assert summary["reasons"]["invalid_json"] == 1 and sum(summary["reasons"].values()) == 2
    assert len(quarantine.read_text().splitlines()) == 2


def test_validate_cli_exits_2_on_unreadable_file_and_names_it_unbroken(tmp_path):
    missing = tmp_path / "a-folder-name-long-enough-to-pass-the-terminal-width" / "nope[1].jsonl"
    # a narrow terminal must not wrap the path mid-name (it did under pytest-xdist's longer tmp paths)
    result = subprocess.run([sys.executable, "-m", "medtune.cli", "validate", "--task", "nli", str(missing)],
                            capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "40"})
    assert result.returncode == 2 and f"{missing}: cannot read (no such file)" in result.stderr, result.stderr


def test_parallel_multi_bucket_clean_equals_single_pass(tmp_path, monkeypatch):
    """Workers over byte ranges + many hash buckets give byte-identical outputs and the same quarantine."""
    from medtune import sample
    from medtune.data import clean

    raw = tmp_path / "raw"
    sample.write_sample(raw, {"reranker": 600}, seed=5, dirty_fraction=0.05, holdout_fraction=0.05)
    src = raw / "reranker" / "sample.jsonl"
    single = clean.clean_files("reranker", [src], tmp_path / "a.jsonl", tmp_path / "qa.jsonl", workers=1)
    monkeypatch.setattr(clean, "BUCKET_BYTES", 4096)
    monkeypatch.setattr(clean, "PARALLEL_MIN_BYTES", 1024)
    parallel = clean.clean_files("reranker", [src], tmp_path / "b.jsonl", tmp_path / "qb.jsonl", workers=2)
    assert single.summary() == parallel.summary() and single.reasons["conflict"] > 0
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    records = lambda p: sorted((r["line"], r["reason"], r["raw"]) for r in map(json.loads, p.read_text().splitlines()))  # noqa: E731
    assert records(tmp_path / "qa.jsonl") == records(tmp_path / "qb.jsonl")
