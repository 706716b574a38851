"""scripts/check_free_space.py: the pre-install disk check (pip reports a full disk as a network error)."""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "check_free_space.py"


@pytest.fixture(scope="module")
def check():
    spec = importlib.util.spec_from_file_location("check_free_space", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_enough_space_passes(check, tmp_path):
    assert check.shortfalls([tmp_path], need_gib=0) == []
    assert check.main(["--need-gib", "0", str(tmp_path)]) == 0


def test_shortfall_names_the_folder_and_numbers(check, tmp_path, capsys):
    venv = tmp_path / "not" / "yet" / ".venv"  # measured on the nearest existing parent
    assert check.nearest_existing(venv) == tmp_path
    assert check.main(["--need-gib", "1e9", str(venv)]) == 1
    err = capsys.readouterr().err
    assert f"{venv}:" in err and "1e+09 GiB needed" in err and "MIN_FREE_GIB" in err
