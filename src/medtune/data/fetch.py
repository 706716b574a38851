"""The `fetch` stage: raw JSONL per task into `data/raw/<task>/`.

Sources (`data.source`):
- `sample`: the deterministic generator (`medtune.sample`), offline;
- `zenodo`: TrialMatchAI's `finetuning_datasets.zip` from Zenodo record 15045515 — downloaded with retries
  and a progress bar, verified against `data.zenodo.sha256`, extracted refusing absolute and `..` members;
- `dir`: a local folder.
For `zenodo` and `dir`, `data.files` maps each task to a glob inside the source (or to `sample` to generate
that task, e.g. for tasks the Zenodo deposit does not cover). Original file names are kept, so quarantine
records point at the file and line a row came from.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import stat
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from medtune.console import progress
from medtune.io import InputError, atomic_path

log = logging.getLogger(__name__)
ZENODO_URL = "https://zenodo.org/records/{record}/files/{file}?download=1"


class FetchError(RuntimeError):
    pass


# ---- download ------------------------------------------------------------------------------------------------


def download(url: str, dest: Path, retries: int = 4, backoff: float = 2.0, timeout: float = 60.0) -> Path:
    """Download `url` (http(s) or file://) to `dest` atomically, retrying transient failures."""
    last_error: Exception | None = None
    for attempt in range(1, retries + 1):
        try:
            with atomic_path(dest) as tmp:
                _stream(url, tmp, timeout)
            return dest
        except urllib.error.HTTPError as exc:
            if 400 <= exc.code < 500 and exc.code != 429:
                raise FetchError(f"{url}: HTTP {exc.code} {exc.reason} (not retried)") from exc
            last_error = exc
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
            last_error = exc
        if attempt < retries:
            wait = backoff ** (attempt - 1)
            log.warning("download of %s failed (%s); retry %d/%d in %.0fs", url, last_error, attempt, retries - 1, wait)
            time.sleep(wait)
    raise FetchError(f"{url}: download failed after {retries} attempts: {last_error}")


def _stream(url: str, out: Path, timeout: float) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "medtune-fetch"})
    with urllib.request.urlopen(request, timeout=timeout) as response, out.open("wb") as fh, progress() as bar:
        size = response.headers.get("Content-Length")
        task = bar.add_task(f"download {PurePosixPath(url.split('?')[0]).name}", total=int(size) if size else None)
        while chunk := response.read(1 << 20):
            fh.write(chunk)
            bar.advance(task, len(chunk))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str) -> None:
    actual = sha256_of(path)
    if not expected:
        raise FetchError(
            f"{path}: data.zenodo.sha256 is empty, so the download cannot be verified. "
            f"If you trust this file, pin its checksum in params.yaml: sha256: {actual}"
        )
    if actual != expected.lower():
        raise FetchError(f"{path}: sha256 mismatch: expected {expected}, got {actual} (corrupt or changed download)")


# ---- safe extraction -----------------------------------------------------------------------------------------


def safe_extract(archive: Path, dest: Path) -> list[Path]:
    """Extract a zip, refusing absolute paths, `..` components and symlinks (zip-slip)."""
    extracted = []
    with zipfile.ZipFile(archive) as zf:
        for member in zf.infolist():
            name = member.filename
            parts = PurePosixPath(name.replace("\\", "/")).parts
            if name.startswith(("/", "\\")) or (parts and parts[0].endswith(":")) or ".." in parts:
                raise FetchError(f"{archive}: refusing unsafe member path {name!r}")
            if stat.S_ISLNK(member.external_attr >> 16):
                raise FetchError(f"{archive}: refusing symlink member {name!r}")
        for member in zf.infolist():
            target = dest.joinpath(*PurePosixPath(member.filename.replace("\\", "/")).parts)
            if member.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(member) as src, target.open("wb") as out:
                shutil.copyfileobj(src, out)
            extracted.append(target)
    return extracted


# ---- sources -------------------------------------------------------------------------------------------------------


def collect(source_dir: Path, files: dict[str, str], out_dir: Path, tasks: list[str]) -> dict[str, list[str]]:
    """Copy each task's files (glob in `files[task]`) from `source_dir` into `out_dir/<task>/`."""
    taken: dict[str, list[str]] = {}
    for task in tasks:
        pattern = files.get(task)
        if pattern is None:
            raise FetchError(f"data.files has no entry for task {task!r}: give a glob inside {source_dir} or 'sample'")
        if pattern == "sample":
            continue
        matches = sorted(p for p in source_dir.glob(pattern) if p.is_file())
        if not matches:
            raise FetchError(f"data.files.{task}={pattern!r} matches no file under {source_dir}")
        (out_dir / task).mkdir(parents=True, exist_ok=True)
        for match in matches:
            shutil.copyfile(match, out_dir / task / match.name)
        taken[task] = [str(m.relative_to(source_dir)) for m in matches]
    return taken


def generator_options(sample_cfg: dict) -> dict[str, dict]:
    """Per-task generator knobs from `data.sample`: `note_facts: {task: N}` caps the facts per patient note."""
    note_facts = sample_cfg.get("note_facts") or {}
    if not isinstance(note_facts, dict):
        raise InputError(f"data.sample.note_facts must map a task to a number of facts, got {note_facts!r}")
    return {task: {"note_facts": int(n)} for task, n in note_facts.items()}


def fetch(data: dict, seed: int, out_dir: Path | str, cache_dir: Path | str = "data/external") -> dict:
    """Run the configured source into `out_dir` (replaced atomically). Returns what was written."""
    from medtune.sample import write_sample

    source = data.get("source")
    tasks = list(data["tasks"])
    sample_cfg = data["sample"]
    with atomic_path(out_dir, is_dir=True) as tmp:
        if source == "sample":
            sizes = {task: sample_cfg["sizes"][task] for task in tasks}
            generated_tasks = tasks
            taken: dict = {}
        elif source in ("zenodo", "dir"):
            files = data.get("files") or {}
            if source == "zenodo":
                root = _zenodo(data["zenodo"], Path(cache_dir))
            else:
                root = Path(data["dir"]["path"])
                if not root.is_dir():
                    raise InputError(f"data.dir.path={str(root)!r} is not a directory")
            taken = collect(root, files, tmp, tasks)
            generated_tasks = [t for t in tasks if files.get(t) == "sample"]
            sizes = {task: sample_cfg["sizes"][task] for task in generated_tasks}
        else:
            raise InputError(f"data.source={source!r}: expected 'sample', 'zenodo' or 'dir'")
        lines = write_sample(tmp, sizes, sample_cfg.get("seed", seed), sample_cfg["dirty_fraction"], sample_cfg["holdout_fraction"],
                             options=generator_options(sample_cfg)) if sizes else {}
    return {"source": source, "files": taken, "generated": lines}


def _zenodo(cfg: dict, cache_dir: Path) -> Path:
    url = cfg.get("url") or ZENODO_URL.format(record=cfg["record"], file=cfg["file"])
    archive = cache_dir / cfg["file"]
    if not archive.exists() or (cfg.get("sha256") and sha256_of(archive) != cfg["sha256"].lower()):
        log.info("downloading %s", url)
        download(url, archive, retries=int(cfg.get("retries", 4)))
    verify_sha256(archive, cfg.get("sha256", ""))
    extracted = cache_dir / (archive.stem + ".extracted")
    with atomic_path(extracted, is_dir=True) as tmp:
        safe_extract(archive, tmp)
    return extracted
