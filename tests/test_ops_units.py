"""Rules behind the reproducibility checks: what counts as timing, canonical adapter configs, curve trimming."""

from __future__ import annotations

import json

from medtune.ops.determinism import canonicalize_adapter_config, differences, snapshot, strip_timing
from medtune.ops.sandbox import TINY_PROFILE, deep_merge
from medtune.train.callbacks import drop_curve_points_after


def test_timing_keys_are_stripped_and_nothing_else():
    metrics = {"seconds": 1.2, "train_runtime_seconds": 3.0, "train_tokens_per_second": 9.1, "eval_runtime_s": 4.0,
               "train": {"runtime": 2.0, "samples_per_second": 3.0, "loss": 0.5}, "eval_loss": 0.7,
               "field_timeframe_accuracy": 0.4, "steps": 6}
    assert strip_timing(metrics) == {"train": {"loss": 0.5}, "eval_loss": 0.7, "field_timeframe_accuracy": 0.4, "steps": 6}


def test_snapshot_ignores_timing_but_sees_every_other_change(tmp_path):
    (tmp_path / "metrics/live/plots/metrics/train").mkdir(parents=True)
    (tmp_path / "metrics/a.json").write_text(json.dumps({"loss": 1.0, "seconds": 3}))
    (tmp_path / "metrics/live/plots/metrics/train/runtime.tsv").write_text("step\truntime\n1\t0.3\n")
    (tmp_path / "models").mkdir()
    (tmp_path / "models/w.bin").write_bytes(b"\x00\x01")
    before = snapshot(tmp_path)
    (tmp_path / "metrics/a.json").write_text(json.dumps({"seconds": 4, "loss": 1.0}))
    (tmp_path / "metrics/live/plots/metrics/train/runtime.tsv").write_text("step\truntime\n1\t0.4\n")
    assert differences(before, snapshot(tmp_path)) == []
    (tmp_path / "models/w.bin").write_bytes(b"\x00\x02")
    (tmp_path / "metrics/a.json").write_text(json.dumps({"seconds": 4, "loss": 1.1}))
    assert differences(before, snapshot(tmp_path)) == ["metrics/a.json", "models/w.bin"]


def test_adapter_config_module_sets_are_written_sorted(tmp_path):
    config = {"r": 8, "target_modules": ["v_proj", "q_proj", "down_proj"], "modules_to_save": None}
    (tmp_path / "adapter_config.json").write_text(json.dumps(config))
    canonicalize_adapter_config(tmp_path)
    saved = json.loads((tmp_path / "adapter_config.json").read_text())
    assert saved == {"r": 8, "target_modules": ["down_proj", "q_proj", "v_proj"], "modules_to_save": None}


def test_resumed_curves_drop_points_past_the_checkpoint(tmp_path):
    curve = tmp_path / "plots/metrics/train/loss.tsv"
    curve.parent.mkdir(parents=True)
    curve.write_text("step\tloss\n2\t5.0\n4\t4.0\n6\t3.5\n")
    drop_curve_points_after(tmp_path, 4)
    assert curve.read_text() == "step\tloss\n2\t5.0\n4\t4.0\n"


def test_profile_overrides_merge_into_nested_params():
    params = {"train": {"epochs": 3, "optim": "auto"}, "lora": {"r": 8}, "seed": 1}
    merged = deep_merge(params, {"train": {"epochs": 1}, "lora": {"r": 4}})
    assert merged == {"train": {"epochs": 1, "optim": "auto"}, "lora": {"r": 4}, "seed": 1}
    assert params["train"]["epochs"] == 3  # the input is left alone
    assert TINY_PROFILE["train"]["save_steps"] % TINY_PROFILE["train"]["eval_steps"] == 0


def test_non_zero_ranks_read_the_resume_point_without_touching_the_folder(tmp_path):
    from medtune.train.sft import FINGERPRINT_FILE, resume_point

    (tmp_path / FINGERPRINT_FILE).write_text(json.dumps({"fingerprint": "abc"}))
    for step, complete in ((2, True), (4, True), (6, False)):  # checkpoint-6 was cut short by a kill
        (tmp_path / f"checkpoint-{step}").mkdir()
        if complete:
            (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
    assert resume_point(tmp_path, "abc", resume=True) == str(tmp_path / "checkpoint-4")
    assert resume_point(tmp_path, "other settings", resume=True) is None
    assert resume_point(tmp_path, "abc", resume=False) is None
    assert (tmp_path / "checkpoint-6").exists()  # only rank 0 (prepare_checkpoints) cleans up


def test_lm_train_stages_list_the_shared_lora_block_exactly_when_they_inherit_from_it():
    """`-S lora.r=32` must re-run every adapter the shared block can change and none it cannot: a train stage lists
    `lora` iff its task block leaves at least one shared key to it (a stage that inherits nothing would retrain to
    the same bytes; one that inherits without listing it would silently keep a stale adapter)."""
    import re
    from pathlib import Path

    import yaml

    from medtune.config import params_key

    root = Path(__file__).resolve().parents[1]
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    params = yaml.safe_load((root / "params.yaml").read_text())
    checked = 0
    for name, stage in stages.items():
        match = re.search(r"train_sft\.py --task (\S+)", stage.get("cmd", ""))
        if not match:
            continue
        task_lora = (params.get(params_key(match.group(1))) or {}).get("lora") or {}
        inherits = set(params["lora"]) - set(task_lora)
        lists = any(p == "lora" or str(p).startswith("lora.") for p in stage.get("params", []))
        assert lists == bool(inherits), f"{name}: inherits {sorted(inherits) or 'no'} shared lora keys but lists lora: {lists}"
        checked += 1
    assert checked >= 5
