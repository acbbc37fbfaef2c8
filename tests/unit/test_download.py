"""`download` (python/sera_rectify/download.py), offline: huggingface_hub's real snapshot_download runs against a
fake Hub served on 127.0.0.1.

The fake Hub answers the requests huggingface_hub 2.4.0 makes for a dataset repo (read off its source:
_snapshot_download.py, hf_api.py, file_download.py):
- GET  /api/datasets/{repo}/revision/{rev}     repo_info: JSON with "id" and "sha" (the commit)
- GET  /api/datasets/{repo}/tree/{commit}      list_repo_tree(recursive=True): JSON list of files and directories
- HEAD /datasets/{repo}/resolve/{commit}/{path} file metadata: X-Repo-Commit, ETag, Content-Length headers
- GET  /datasets/{repo}/resolve/{commit}/{path} the bytes
Errors carry X-Error-Code (RepoNotFound, RevisionNotFound, EntryNotFound) as the Hub does. Files carry no Xet
headers, so the plain HTTP download path runs (the real Hub serves large files from Xet storage: not emulated).
"""

from __future__ import annotations

import argparse
import csv
import errno
import hashlib
import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from sera_rectify import download, sources
from sera_testkit.constants import DATASETS_SEED

DATASET = "Sera-4.6-Lite-T2"
REPO_ID = f"allenai/{DATASET}"
COMMIT = hashlib.sha1(b"fake Sera-4.6-Lite-T2 commit").hexdigest()
DATA_FILE = "data/sera-4.6-lite-t2_2_string_enriched.jsonl"
FILES = {
    DATA_FILE: b'{"messages": "[]", "instance_id": "tinydb_10309"}\n{"messages": "[]", "instance_id": "cantools_10317"}\n',
    "README.md": b"---\nlicense: odc-by\n---\n# Sera-4.6-Lite-T2\n",
    ".gitattributes": b"*.jsonl filter=lfs diff=lfs merge=lfs -text\n",
}


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class FakeHub:
    """A loopback HTTP server holding one dataset repo; `requests` logs (method, path) of every request."""

    def __init__(self, repo_id: str = REPO_ID, files: dict[str, bytes] = FILES) -> None:
        self.repo_id = repo_id
        self.files = files
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler_class())
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def count(self, method: str, path_suffix: str) -> int:
        with self.lock:
            return sum(1 for m, p in self.requests if m == method and p.endswith(path_suffix))

    def tree(self) -> list[dict]:
        folders = sorted({str(Path(p).parent) for p in self.files if "/" in p})
        entries = [{"type": "directory", "oid": git_blob_id(f.encode()), "size": 0, "path": f} for f in folders]
        entries += [{"type": "file", "oid": git_blob_id(data), "size": len(data), "path": p} for p, data in sorted(self.files.items())]
        return entries

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        hub = self
        repo = re.escape(hub.repo_id)
        info_path = re.compile(rf"^/api/datasets/{repo}(?:/revision/(?P<rev>[^/]+))?$")
        tree_path = re.compile(rf"^/api/datasets/{repo}/tree/(?P<rev>[^/]+)$")
        file_path = re.compile(rf"^/datasets/{repo}/resolve/(?P<rev>[^/]+)/(?P<path>.+)$")

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep the test output clean
                pass

            def do_HEAD(self) -> None:
                self.answer(body=False)

            def do_GET(self) -> None:
                self.answer(body=True)

            def answer(self, body: bool) -> None:
                path = unquote(urlsplit(self.path).path)
                with hub.lock:
                    hub.requests.append((self.command, path))
                if not path.startswith(("/api/datasets/", "/datasets/")) or f"/{hub.repo_id}" not in path:
                    return self.send(404, b"Repository not found", {"X-Error-Code": "RepoNotFound"}, body)
                for pattern in (info_path, tree_path, file_path):
                    match = pattern.match(path)
                    if match:
                        break
                else:
                    return self.send(404, b"not found", {}, body)
                if (match["rev"] or "main") not in ("main", COMMIT):
                    return self.send(404, b"Invalid rev id", {"X-Error-Code": "RevisionNotFound"}, body)
                if pattern is info_path:
                    info = {"id": hub.repo_id, "sha": COMMIT, "private": False, "siblings": [{"rfilename": p} for p in hub.files]}
                    return self.send(200, json.dumps(info).encode(), {"Content-Type": "application/json"}, body)
                if pattern is tree_path:
                    return self.send(200, json.dumps(hub.tree()).encode(), {"Content-Type": "application/json"}, body)
                data = hub.files.get(match["path"])
                if data is None:
                    return self.send(404, b"Entry not found", {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": COMMIT}, body)
                headers = {"X-Repo-Commit": COMMIT, "ETag": f'"{git_blob_id(data)}"', "Content-Type": "application/octet-stream"}
                return self.send(200, data, headers, body)

            def send(self, status: int, data: bytes, headers: dict[str, str], body: bool) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if body:
                    self.wfile.write(data)

        return Handler

    def __enter__(self) -> FakeHub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hub_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """huggingface_hub's cache and settings in tmp, online, no proxy for loopback; any attempt to resolve a host
    other than 127.0.0.1 fails the test (no network in tests)."""
    from huggingface_hub import constants

    home = tmp_path / "hf_home"
    monkeypatch.setenv("HF_HOME", str(home))
    # constants were read from the environment at import: point the ones snapshot_download reads at tmp too
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    # telemetry: the user-agent's agent detection fetches {constants.ENDPOINT}/api/agent-harnesses, i.e. the real Hub
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    real_getaddrinfo = socket.getaddrinfo
    outside: list[str] = []

    def loopback_only(host, *args, **kwargs):
        if host not in ("127.0.0.1", "localhost", b"127.0.0.1", b"localhost"):
            outside.append(str(host))
            raise socket.gaierror(f"test: no network (tried {host})")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback_only)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(proxy, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    yield home
    assert outside == [], f"the test tried to reach {outside}"


def run_download(argv: list[str]) -> int:
    """The command as __main__ runs it: this module's add_arguments and run (works before every command exists)."""
    parser = argparse.ArgumentParser(prog="download")
    download.add_arguments(parser)
    return download.run(parser.parse_args(argv))


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def all_commands_exist() -> bool:
    from sera_rectify.__main__ import COMMANDS

    return all(importlib.util.find_spec(module) is not None for module, _ in COMMANDS.values())


def test_hub_repos_equal_the_seed() -> None:
    with open(DATASETS_SEED, newline="", encoding="utf-8") as handle:
        seed = [(row["dataset"], row["hub_repo_id"]) for row in sorted(csv.DictReader(handle), key=lambda r: int(r["dataset_order"]))]
    assert list(download.HUB_REPOS.items()) == seed


def test_download_lays_out_only_data_files_and_a_rerun_fetches_nothing(tmp_path: Path, hub_env: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture) -> None:
    dest = tmp_path / "sources"
    with FakeHub() as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)  # read when the command runs
        assert run_download(["--dest", str(dest), "--datasets", DATASET]) == 0
        file_url = f"/datasets/{REPO_ID}/resolve/{COMMIT}/{DATA_FILE}"
        assert hub.count("GET", file_url) == 1
        assert hub.count("GET", f"/api/datasets/{REPO_ID}/revision/main") == 1
        assert hub.count("GET", f"/api/datasets/{REPO_ID}/tree/{COMMIT}") == 1
        assert not any(path.endswith(("README.md", ".gitattributes")) for _, path in hub.requests)

        assert (dest / DATASET / DATA_FILE).read_bytes() == FILES[DATA_FILE]
        assert not (dest / DATASET / "README.md").exists()
        assert not (dest / DATASET / ".gitattributes").exists()
        assert (dest / DATASET / ".cache" / "huggingface").is_dir()  # local_dir bookkeeping, skipped by the reader
        found = sources.list_source_files(str(dest / DATASET), DATASET)
        assert [(f.source_file, f.file_format) for f in found] == [(f"{DATASET}/{DATA_FILE}", "jsonl")]
        assert sum(sources.count_rows(f) for f in found) == 2

        requests_before = len(hub.requests)
        assert run_download(["--dest", str(dest), "--datasets", DATASET]) == 0
        second_run = hub.requests[requests_before:]
        assert hub.count("GET", file_url) == 1, second_run
        assert hub.count("HEAD", file_url) <= 1, second_run
        assert second_run == [("GET", f"/api/datasets/{REPO_ID}/revision/main")]
    stderr = capfd.readouterr().err
    assert error_lines(stderr) == []
    assert f"{DATASET}: 1 data file(s)" in stderr


def test_revision_is_passed_to_the_hub(tmp_path: Path, hub_env: Path, capfd: pytest.CaptureFixture) -> None:
    dest = tmp_path / "sources"
    with FakeHub() as hub:
        assert run_download(["--dest", str(dest), "--datasets", DATASET, "--revision", COMMIT, "--endpoint", hub.endpoint]) == 0
        assert (dest / DATASET / DATA_FILE).is_file()
        assert not any("/revision/main" in path for _, path in hub.requests)  # a commit needs no lookup
        assert run_download(["--dest", str(tmp_path / "other"), "--datasets", DATASET, "--revision", "v9", "--endpoint", hub.endpoint]) == 2
    errors = error_lines(capfd.readouterr().err)
    assert len(errors) == 1
    assert errors[0].startswith(f"error: {DATASET}: revision 'v9' does not exist in {REPO_ID}")


def test_unreachable_hub_gives_exit_2_and_one_line(tmp_path: Path, hub_env: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture) -> None:
    with socket.socket() as probe:  # a port nothing listens on: connection refused at once
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    assert run_download(["--dest", str(tmp_path / "sources"), "--datasets", DATASET]) == 2
    stderr = capfd.readouterr().err
    assert "Traceback" not in stderr
    errors = error_lines(stderr)
    assert len(errors) == 1, stderr
    assert errors[0].startswith(f"error: {DATASET}: cannot reach the Hub at http://127.0.0.1:{port} (ConnectError: ")
    assert "run the same command again" in errors[0]
    assert [line for line in stderr.splitlines() if line.strip()] == [f"{DATASET}: {REPO_ID} -> {tmp_path / 'sources' / DATASET}", errors[0]]


def test_a_full_disk_is_explained_in_one_line(tmp_path: Path) -> None:
    err = OSError(errno.ENOSPC, "No space left on device")
    message = download.explain(err, repo_id=REPO_ID, revision=None, endpoint="http://hub", local_dir=tmp_path / DATASET)
    assert message == f"no space left on the disk of {tmp_path / DATASET}; free space or choose another --dest, then run the same command again (finished files are kept)"


def test_missing_repo_gives_exit_2_and_one_line(tmp_path: Path, hub_env: Path, capfd: pytest.CaptureFixture) -> None:
    with FakeHub() as hub:  # holds Sera-4.6-Lite-T2 only
        code = run_download(["--dest", str(tmp_path / "sources"), "--datasets", "Sera-4.5A-Full-T1", DATASET, "--endpoint", hub.endpoint])
        assert code == 2
        assert not any(DATASET in path for _, path in hub.requests)  # stops at the first failing dataset
    stderr = capfd.readouterr().err
    assert "Traceback" not in stderr
    assert error_lines(stderr) == [
        f"error: Sera-4.5A-Full-T1: {hub.endpoint} has no dataset repo allenai/Sera-4.5A-Full-T1 (or it is private: "
        "log in with `hf auth login` or set HF_TOKEN); check the endpoint (HF_ENDPOINT / --endpoint)"
    ]


def test_dest_that_is_a_file_gives_exit_2_and_one_line(tmp_path: Path, hub_env: Path, capfd: pytest.CaptureFixture) -> None:
    (tmp_path / "sources").write_text("not a folder")
    with FakeHub() as hub:
        assert run_download(["--dest", str(tmp_path / "sources"), "--datasets", DATASET, "--endpoint", hub.endpoint]) == 2
        assert hub.requests == []
    stderr = capfd.readouterr().err
    assert error_lines(stderr) == [line for line in stderr.splitlines() if line.strip() and not line.startswith(f"{DATASET}: ")]
    assert len(error_lines(stderr)) == 1
    assert error_lines(stderr)[0].startswith(f"error: {DATASET}: cannot create {tmp_path / 'sources' / DATASET} (")
    assert error_lines(stderr)[0].endswith("; choose a writable --dest")


def test_repo_without_data_files_is_an_error(tmp_path: Path, hub_env: Path, capfd: pytest.CaptureFixture) -> None:
    card_only = {"README.md": FILES["README.md"]}
    with FakeHub(files=card_only) as hub:
        assert run_download(["--dest", str(tmp_path / "sources"), "--datasets", DATASET, "--endpoint", hub.endpoint]) == 2
        assert not any("/resolve/" in path for _, path in hub.requests)
    errors = error_lines(capfd.readouterr().err)
    assert len(errors) == 1 and "has no data file" in errors[0]


def test_through_main_and_hf_endpoint_set_before_import(tmp_path: Path, hub_env: Path) -> None:
    """`python -m sera_rectify download` in a fresh process, configured the way users do: HF_ENDPOINT and HF_HOME
    in the environment before huggingface_hub is imported."""
    if not all_commands_exist():
        pytest.skip("a command module of sera_rectify.__main__ is not written yet (main() imports them all)")
    dest = tmp_path / "sources"
    with FakeHub() as hub:
        env = {key: value for key, value in os.environ.items() if not key.upper().endswith("_PROXY") and not key.startswith("HF_")}
        env |= {"HF_ENDPOINT": hub.endpoint, "HF_HOME": str(hub_env), "NO_PROXY": "127.0.0.1"}
        command = [sys.executable, "-m", "sera_rectify", "download", "--dest", str(dest), "--datasets", DATASET]
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert hub.count("GET", f"/datasets/{REPO_ID}/resolve/{COMMIT}/{DATA_FILE}") == 1
    assert (dest / DATASET / DATA_FILE).read_bytes() == FILES[DATA_FILE]
    assert not (dest / DATASET / "README.md").exists()
    # the only thing written outside dest: the branch -> commit ref, in HF_HOME's cache (not in ~/.cache)
    assert (hub_env / "hub" / "datasets--allenai--Sera-4.6-Lite-T2" / "refs" / "main").read_text() == COMMIT


def test_main_parses_the_download_command(tmp_path: Path, hub_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not all_commands_exist():
        pytest.skip("a command module of sera_rectify.__main__ is not written yet (main() imports them all)")
    from sera_rectify.__main__ import main

    with FakeHub() as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        assert main(["download", "--dest", str(tmp_path / "sources"), "--datasets", DATASET]) == 0
    assert (tmp_path / "sources" / DATASET / DATA_FILE).is_file()
