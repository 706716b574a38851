"""fetch: the zenodo path against a local HTTP server (never the internet), checksums, zip safety, dir source."""

import hashlib
import http.server
import json
import threading
import zipfile
from functools import partial

import pytest

from medtune.data.fetch import FetchError, download, fetch, safe_extract, verify_sha256

ROW = {"patient_text": "54-year-old woman.", "criterion": "Age 18 to 65", "label": "Yes"}


def make_zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return path


def data_params(**overrides):
    data = {
        "source": "zenodo", "tasks": ["reranker", "nli"],
        "sample": {"seed": 1, "sizes": {"reranker": 10, "nli": 12}, "dirty_fraction": 0.0, "holdout_fraction": 0.0},
        "zenodo": {"record": 15045515, "file": "finetuning_datasets.zip", "url": "", "sha256": "", "retries": 2},
        "dir": {"path": ""}, "files": {"reranker": "**/*rerank*.jsonl", "nli": "sample"},
    }
    data.update(overrides)
    return data


@pytest.fixture
def http_server(tmp_path):
    """A local HTTP server on 127.0.0.1 serving tmp_path/www; `fail_first` GETs answer 503."""
    root = tmp_path / "www"
    root.mkdir()
    state = {"fail_first": 0, "requests": 0}

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            state["requests"] += 1
            if state["requests"] <= state["fail_first"]:
                self.send_error(503)
                return
            super().do_GET()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}", state
    server.shutdown()


def test_zenodo_source_downloads_verifies_and_extracts(http_server, tmp_path):
    root, base, state = http_server
    archive = make_zip(root / "finetuning_datasets.zip", {"finetune/reranker.jsonl": json.dumps(ROW) + "\n", "README.txt": "x"})
    sha = hashlib.sha256(archive.read_bytes()).hexdigest()
    state["fail_first"] = 1  # one transient 503: retried
    data = data_params(zenodo={"record": 1, "file": "finetuning_datasets.zip", "url": f"{base}/finetuning_datasets.zip", "sha256": sha, "retries": 3})
    result = fetch(data, seed=1, out_dir=tmp_path / "raw", cache_dir=tmp_path / "cache")
    assert result["files"] == {"reranker": ["finetune/reranker.jsonl"]}
    assert (tmp_path / "raw" / "reranker" / "reranker.jsonl").read_text().strip() == json.dumps(ROW)
    assert len((tmp_path / "raw" / "nli" / "sample.jsonl").read_text().splitlines()) == 12  # `sample` for tasks Zenodo lacks
    assert state["requests"] == 2


def test_checksum_mismatch_and_missing_checksum_are_refused(tmp_path):
    archive = make_zip(tmp_path / "a.zip", {"x.jsonl": "{}"})
    with pytest.raises(FetchError, match="sha256 mismatch"):
        verify_sha256(archive, "0" * 64)
    with pytest.raises(FetchError, match="pin its checksum.*" + hashlib.sha256(archive.read_bytes()).hexdigest()):
        verify_sha256(archive, "")


def test_file_url_override_and_http_errors(tmp_path, http_server):
    src = tmp_path / "src.bin"
    src.write_bytes(b"payload")
    assert download(src.as_uri(), tmp_path / "out.bin").read_bytes() == b"payload"
    _, base, _ = http_server
    with pytest.raises(FetchError, match="HTTP 404"):
        download(f"{base}/absent.zip", tmp_path / "absent.zip", retries=3, backoff=0)
    assert not (tmp_path / "absent.zip").exists()


@pytest.mark.parametrize("member", ["/etc/evil.jsonl", "../evil.jsonl", "data/../../evil.jsonl", "C:/evil.jsonl"])
def test_unsafe_zip_members_are_refused(tmp_path, member):
    archive = make_zip(tmp_path / "bad.zip", {"ok.jsonl": "{}", member: "{}"})
    with pytest.raises(FetchError, match="unsafe member"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "out" / "ok.jsonl").exists()  # nothing extracted before the check
    assert not (tmp_path / "evil.jsonl").exists()


def test_symlink_members_are_refused(tmp_path):
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("link")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(FetchError, match="symlink"):
        safe_extract(archive, tmp_path / "out")


def test_dir_source_and_missing_pattern(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "my_reranker_data.jsonl").write_text(json.dumps(ROW) + "\n")
    data = data_params(source="dir", dir={"path": str(folder)})
    fetch(data, seed=1, out_dir=tmp_path / "raw")
    assert (tmp_path / "raw" / "reranker" / "my_reranker_data.jsonl").exists()
    data["files"] = {"reranker": "*.csv", "nli": "sample"}
    with pytest.raises(FetchError, match=r"data.files.reranker='\*.csv' matches no file"):
        fetch(data, seed=1, out_dir=tmp_path / "raw2")
    assert not (tmp_path / "raw2").exists()
