"""Which `src/medtune` files each dvc.yaml stage runs, and which of them its `deps:` do not declare.

DVC re-runs a stage only when a declared dependency changes, so a module a stage imports but does not declare
(say `medtune/io.py`) can change without anything re-running: the outputs silently describe old code. The list of
deps is hand-written (one stage per concern, so an NER edit never re-runs the causal-LM stages); this module
checks it against the stage script's import closure, and `tests/test_ops_deps.py` keeps dvc.yaml honest.

The closure comes from `modulefinder` (stdlib), which reads the bytecode and so also sees imports inside functions
(the heavy imports are kept lazy); it over-approximates with modules a stage imports but never calls, the safe side
for a dependency list. Third-party packages are not on its search path, so only medtune files are listed.
It cannot follow `importlib.import_module(name)` (the sample generator picks its task modules that way), so a
directory dep counts as running every module under it: their imports join the stage's closure.
"""

from __future__ import annotations

import modulefinder
import re
from pathlib import Path

import yaml

STAGE_SCRIPT = re.compile(r"\bpython\s+(stages/\S+\.py)")


def imported_source_files(script: Path, root: Path) -> set[str]:
    """Repo-relative paths of the `src/` modules `script` imports, directly or through other modules."""
    finder = modulefinder.ModuleFinder(path=[str(root / "src"), str(script.parent)])
    finder.run_script(str(script))
    src = (root / "src").resolve()
    files = set()
    for module in finder.modules.values():
        path = Path(module.__file__).resolve() if module.__file__ else None
        if path is not None and path.is_relative_to(src) and path.name != "__init__.py":
            files.add(path.relative_to(root.resolve()).as_posix())
    return files


def _directory_closure(directory: Path, root: Path) -> set[str]:
    """The src files the modules under a declared directory import (each module run as a script)."""
    files: set[str] = set()
    for module in sorted(directory.rglob("*.py")):
        files |= imported_source_files(module, root)
    return files


def undeclared_source_deps(root: Path, dvc_yaml: str = "dvc.yaml") -> dict[str, list[str]]:
    """{stage: [imported src files its deps do not cover]} for every stage that runs a `stages/` script; a dep that
    is a directory covers the files under it, and the files they import must be declared too."""
    stages = yaml.safe_load((root / dvc_yaml).read_text())["stages"]
    closures: dict[str, set[str]] = {}
    missing = {}
    for name, stage in stages.items():
        match = STAGE_SCRIPT.search(stage.get("cmd", ""))
        if not match:
            continue
        script = match.group(1)
        if script not in closures:
            closures[script] = imported_source_files(root / script, root)
        deps = [str(dep).rstrip("/") for dep in stage.get("deps", [])]
        used = set(closures[script])
        for dep in deps:
            if dep.startswith("src/") and (root / dep).is_dir():
                if dep not in closures:
                    closures[dep] = _directory_closure(root / dep, root)
                used |= closures[dep]
        undeclared = sorted(f for f in used if not any(f == d or f.startswith(d + "/") for d in deps))
        if undeclared:
            missing[name] = undeclared
    return missing
