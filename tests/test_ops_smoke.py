"""`make smoke` (medtune.ops.smoke): a throwaway copy at SMOKE_PROFILE, `-S` applied to the copy only, failures kept
for inspection with dvc's exit code. The full cold run is what `make bench` times (bench_pipeline); here the data
stages stand in for it, which keeps the test to seconds."""

from __future__ import annotations

import json

import pytest
import yaml

from medtune.ops import smoke
from medtune.ops.sandbox import REPO


def test_data_stages_run_in_the_copy_with_the_settings_applied(tmp_path):
    before = (REPO / "params.yaml").read_text()
    result = smoke.run_smoke(tmp_path, settings=[("data.sample.sizes.cot", 160)], targets=["split"])
    assert result.returncode == 0
    assert "metrics/split.json" in result.metrics_files
    params = yaml.safe_load((result.repo / "params.yaml").read_text())
    assert params["data"]["sample"]["sizes"]["cot"] == 160  # the setting
    assert params["tiny_lm"]["hidden_size"] == smoke.SMOKE_PROFILE["tiny_lm"]["hidden_size"]  # the profile
    rows = sum(len((result.repo / f"data/split/cot/{part}.jsonl").read_text().splitlines()) for part in ("train", "val", "test"))
    assert 0 < rows <= 160
    assert not (result.repo / "models").exists()  # only what the targets need ran
    assert (REPO / "params.yaml").read_text() == before  # the checkout is never touched


def test_a_failing_stage_returns_dvcs_exit_code_and_keeps_the_copy(tmp_path, capsys, monkeypatch):
    real_run = smoke.run_smoke

    def failing(work, settings, targets):  # an unknown data source: fetch fails at once
        return real_run(work, settings, targets, overrides={"data": {"source": "nope"}})

    monkeypatch.setattr(smoke, "run_smoke", failing)
    code = smoke.main(["fetch", "--keep", str(tmp_path / "kept")])
    assert code != 0
    err = capsys.readouterr().err
    assert "smoke run failed" in err and str(tmp_path / "kept" / "repo") in err
    assert (tmp_path / "kept" / "repo" / "dvc.yaml").exists()


def test_unknown_setting_and_non_empty_keep_are_refused(tmp_path, capsys):
    assert smoke.main(["split", "-S", "lora.nope=1", "--keep", str(tmp_path / "a")]) == 2
    assert "--set lora.nope=1: params.yaml has no key lora.nope" in capsys.readouterr().err
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x").write_text("x")
    assert smoke.main(["--keep", str(tmp_path / "b")]) == 2
    assert "is not empty" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        smoke.main(["-S", "no-equals-sign"])


def test_every_smoke_profile_key_exists_in_params_yaml():
    """The profile's keys must exist in params.yaml: a renamed key would silently leave a stage at full size."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())

    def missing(profile: dict, real: dict, prefix: str = "") -> list[str]:
        out = []
        for key, value in profile.items():
            if key not in real:
                out.append(prefix + key)
            elif isinstance(value, dict):
                out += missing(value, real[key], f"{prefix}{key}.")
        return out

    assert missing(smoke.SMOKE_PROFILE, params) == [], json.dumps(smoke.SMOKE_PROFILE)
