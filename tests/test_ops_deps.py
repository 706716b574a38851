"""Every `src/medtune` module a stage imports is one of its dvc.yaml deps, so editing it re-runs the stage."""

from pathlib import Path

import yaml

from medtune.ops.stage_deps import imported_source_files, undeclared_source_deps

ROOT = Path(__file__).resolve().parents[1]


def test_every_stage_declares_the_code_it_imports():
    assert undeclared_source_deps(ROOT) == {}, "add these files to the stages' deps in dvc.yaml"


def test_stage_deps_stay_scoped():
    """The closure is per concern: the causal-LM training stage does not depend on the NER or NLI code."""
    files = imported_source_files(ROOT / "stages" / "train_sft.py", ROOT)
    assert {"src/medtune/train/sft.py", "src/medtune/io.py", "src/medtune/config.py"} <= files
    assert not any(f.startswith(("src/medtune/ner/", "src/medtune/evaluate/nli")) for f in files)


def test_an_undeclared_import_is_reported(tmp_path):
    """A stage whose script imports a module (also inside a function) that its deps lack is flagged; a directory
    dep covers the files under it."""
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "src" / "pkg" / "__init__.py").write_text("")
    (tmp_path / "src" / "pkg" / "helper.py").write_text("VALUE = 1\n")
    (tmp_path / "src" / "pkg" / "lazy.py").write_text("")
    (tmp_path / "stages").mkdir()
    (tmp_path / "stages" / "run.py").write_text("from pkg.helper import VALUE\n\ndef main():\n    import pkg.lazy\n")
    stages = {
        "undeclared": {"cmd": "PYTHONPATH=src python stages/run.py", "deps": ["stages/run.py", "src/pkg/helper.py"]},
        "directory": {"cmd": "PYTHONPATH=src python stages/run.py", "deps": ["stages/run.py", "src/pkg"]},
    }
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}))
    assert undeclared_source_deps(tmp_path) == {"undeclared": ["src/pkg/lazy.py"]}


def test_a_directory_dep_declares_what_its_modules_import(tmp_path):
    """The sample generator loads its task modules with importlib, which modulefinder cannot follow: a directory
    dep counts as running every module under it, so a file one of them imports must be declared as well."""
    (tmp_path / "src" / "pkg" / "gen").mkdir(parents=True)
    for init in ("pkg", "pkg/gen"):
        (tmp_path / "src" / init / "__init__.py").write_text("")
    (tmp_path / "src" / "pkg" / "prompts.py").write_text("TEXT = 'x'\n")
    (tmp_path / "src" / "pkg" / "gen" / "tasks.py").write_text("from pkg import prompts\n")
    (tmp_path / "stages").mkdir()
    (tmp_path / "stages" / "run.py").write_text("import importlib\n\nimportlib.import_module('pkg.gen.tasks')\n")
    stages = {
        "generator": {"cmd": "PYTHONPATH=src python stages/run.py", "deps": ["stages/run.py", "src/pkg/gen"]},
        "declared": {"cmd": "PYTHONPATH=src python stages/run.py", "deps": ["stages/run.py", "src/pkg/gen", "src/pkg/prompts.py"]},
    }
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}))
    assert undeclared_source_deps(tmp_path) == {"generator": ["src/pkg/prompts.py"]}
