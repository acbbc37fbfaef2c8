"""A fake Hugging Face Hub on 127.0.0.1 for the `download` and `upload` tests (no network in tests).

huggingface_hub's real functions run against it: point them at `FakeHub.endpoint` (HF_ENDPOINT or an
`endpoint` argument) inside `offline_hub_environment`, which also keeps huggingface_hub's cache and token in
a temporary HF_HOME and fails the test if anything resolves a host other than the loopback.

It answers the requests huggingface_hub 2.4.0 makes for dataset repos (read off its source, hf_api.py,
_snapshot_download.py, file_download.py, _upload_pipeline.py, _commit_api.py, and checked by logging what
snapshot_download and upload_folder send):

download (snapshot_download)
- GET  /api/datasets/{repo}/revision/{rev}      repo_info: JSON with "id" and "sha" (the head commit)
- GET  /api/datasets/{repo}/tree/{commit}[/{path}]  list_repo_tree: files and directories (under path;
                                                `recursive=false`: its direct children), as datasets' load_dataset lists them
- HEAD /datasets/{repo}/resolve/{commit}/{path} file metadata: X-Repo-Commit, ETag, Content-Length headers
- GET  /datasets/{repo}/resolve/{commit}/{path} the bytes
upload (create_repo, create_branch, upload_folder)
- POST /api/repos/create                        {"name", "organization", "visibility"?, "type"}: 200 {"url"}, 409 {"url"}
                                                when it exists (create_repo(exist_ok=True) reads "url" from the 409 too)
- POST /api/datasets/{repo}/branch/{branch}     create_branch: 200, 409 when it exists
- POST /api/validate-yaml                       {"content", "repoType"}: the README.md header, checked before hashing
- POST /api/datasets/{repo}/preupload/{rev}     {"files": [{"path", "sample", "size"}]}: every file "regular" (its bytes
                                                go base64 in the commit; no LFS or Xet storage needed)
- POST /api/datasets/{repo}/commit/{rev}        NDJSON: a "header" line, then "file" lines {path, content (base64), encoding}
Errors carry X-Error-Code (RepoNotFound, RevisionNotFound, EntryNotFound) as the Hub does.

The fake keeps the newest content of each branch; any commit id of a repo resolves to its main branch (enough
for these tests, which read one commit each).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

# the namespace of the token's user: where create_repo puts a repo id without "namespace/"
USER = "tester"
_REPO = r"(?P<repo>[^/]+/[^/]+)"
_REV = r"(?P<rev>[^/]+)"  # percent-encoded: "refs%2Fpr%2F1"
ROUTES = {
    ("GET", "info"): re.compile(rf"^/api/datasets/{_REPO}(?:/revision/{_REV})?$"),
    ("GET", "tree"): re.compile(rf"^/api/datasets/{_REPO}/tree/{_REV}(?:/(?P<path>.+))?$"),
    ("GET", "file"): re.compile(rf"^/datasets/{_REPO}/resolve/{_REV}/(?P<path>.+)$"),
    ("POST", "create"): re.compile(r"^/api/repos/create$"),
    ("POST", "validate"): re.compile(r"^/api/validate-yaml$"),
    ("POST", "branch"): re.compile(rf"^/api/datasets/{_REPO}/branch/{_REV}$"),
    ("POST", "preupload"): re.compile(rf"^/api/datasets/{_REPO}/preupload/{_REV}$"),
    ("POST", "commit"): re.compile(rf"^/api/datasets/{_REPO}/commit/{_REV}$"),
}


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Repo:
    """One dataset repo: each branch's files and head commit; `commits` every commit id it ever had."""

    branches: dict[str, dict[str, bytes]]
    heads: dict[str, str]
    commits: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.commits |= set(self.heads.values())


@dataclass
class Commit:
    """A commit the fake received: the repo, the revision in the URL, the header and the files with their bytes."""

    repo_id: str
    revision: str
    summary: str
    description: str
    files: dict[str, bytes]
    oid: str


class FakeHub:
    """A loopback HTTP server holding dataset repos ({repo_id: {path: bytes}}, each with main at `commit`).

    `requests` logs (method, path) of every request (path percent-decoded), `authorizations` its Authorization
    header, `created` the JSON body of each
    /api/repos/create, `commits` each commit received. `refuse` = (status, message) answers every request with
    that HTTP error (e.g. (401, "Invalid credentials in Authorization header"))."""

    def __init__(self, repos: dict[str, dict[str, bytes]] | None = None, *, commit: str | None = None) -> None:
        self.commit = commit or hashlib.sha1(b"fake hub initial commit").hexdigest()
        self.repos = {repo_id: Repo({"main": dict(files)}, {"main": self.commit}) for repo_id, files in (repos or {}).items()}
        self.requests: list[tuple[str, str]] = []
        self.authorizations: list[str | None] = []
        self.created: list[dict[str, Any]] = []
        self.commits: list[Commit] = []
        self.refuse: tuple[int, str] | None = None
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler_class())
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def count(self, method: str, path_suffix: str) -> int:
        with self.lock:
            return sum(1 for m, p in self.requests if m == method and p.endswith(path_suffix))

    def files(self, repo_id: str, branch: str = "main") -> dict[str, bytes]:
        with self.lock:
            return dict(self.repos[repo_id].branches[branch])

    @staticmethod
    def tree(files: dict[str, bytes], folder: str = "", recursive: bool = True) -> list[dict]:
        """The entries under `folder` (the root: ""), all of them or (recursive=False) its direct children."""
        prefix = folder + "/" if folder else ""
        folders = sorted({str(parent) for p in files for parent in Path(p).parents if str(parent) != "."})
        entries = [{"type": "directory", "oid": git_blob_id(f.encode()), "size": 0, "path": f} for f in folders]
        entries += [{"type": "file", "oid": git_blob_id(data), "size": len(data), "path": p} for p, data in sorted(files.items())]
        below = [entry for entry in entries if entry["path"].startswith(prefix)]
        return below if recursive else [entry for entry in below if "/" not in entry["path"][len(prefix) :]]

    # -- request handling (under self.lock); each returns (status, body, headers)

    def route(self, method: str, raw_path: str, body: bytes, query: str = "") -> tuple[int, bytes, dict[str, str]]:
        if self.refuse is not None:
            status, message = self.refuse
            return _json(status, {"error": message})
        found = [(name, match) for (m, name), pattern in ROUTES.items() if m == method and (match := pattern.match(raw_path))]
        if not found:
            return 404, b"not found", {}
        name, match = found[0]
        params = {key: unquote(value) for key, value in match.groupdict().items() if value is not None}
        if name == "create":
            return self.create_repo(json.loads(body))
        if name == "validate":
            return _json(200, {"errors": [], "warnings": []})
        repo = self.repos.get(params["repo"])
        if repo is None:
            return 404, b"Repository not found", {"X-Error-Code": "RepoNotFound"}
        if name == "branch":
            return self.create_branch(repo, params["rev"])
        rev = params.get("rev", "main")
        branch = "main" if rev in repo.commits else rev
        if branch not in repo.branches:
            return 404, b"Invalid rev id", {"X-Error-Code": "RevisionNotFound"}
        files = repo.branches[branch]
        if name == "info":
            sha = repo.heads[branch] if rev == branch else rev
            return _json(200, {"id": params["repo"], "sha": sha, "private": False, "siblings": [{"rfilename": p} for p in files]})
        if name == "tree":
            return _json(200, self.tree(files, params.get("path", "").strip("/"), "recursive=false" not in query))
        if name == "preupload":
            wanted = json.loads(body)["files"]
            return _json(200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in wanted]})
        if name == "commit":
            return self.apply_commit(params["repo"], repo, branch, rev, body)
        data = files.get(params["path"])
        if data is None:
            return 404, b"Entry not found", {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": repo.heads[branch]}
        return 200, data, {"X-Repo-Commit": repo.heads[branch], "ETag": f'"{git_blob_id(data)}"', "Content-Type": "application/octet-stream"}

    def create_repo(self, payload: dict[str, Any]) -> tuple[int, bytes, dict[str, str]]:
        self.created.append(payload)
        repo_id = f"{payload.get('organization') or USER}/{payload['name']}"
        url = {"url": f"{self.endpoint}/datasets/{repo_id}"}
        if repo_id in self.repos:
            return _json(409, {"error": "You already created this dataset repo"} | url)
        self.repos[repo_id] = Repo({"main": {}}, {"main": hashlib.sha1(repo_id.encode()).hexdigest()})
        return _json(200, url)

    def create_branch(self, repo: Repo, branch: str) -> tuple[int, bytes, dict[str, str]]:
        if branch in repo.branches:
            return _json(409, {"error": "Reference already exists"})
        repo.branches[branch] = dict(repo.branches["main"])
        repo.heads[branch] = repo.heads["main"]
        return _json(200, {})

    def apply_commit(self, repo_id: str, repo: Repo, branch: str, rev: str, body: bytes) -> tuple[int, bytes, dict[str, str]]:
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        header = next(line["value"] for line in lines if line["key"] == "header")
        files = {}
        for line in lines:
            if line["key"] != "file":  # lfsFile / deletedFile would need storage the fake does not have
                assert line["key"] == "header", f"fake Hub: unexpected commit operation {line['key']}"
                continue
            assert line["value"].get("encoding", "base64") == "base64", line["value"]
            files[line["value"]["path"]] = base64.b64decode(line["value"]["content"])
        oid = hashlib.sha1(body).hexdigest()
        repo.branches[branch].update(files)
        repo.heads[branch] = oid
        repo.commits.add(oid)
        self.commits.append(Commit(repo_id, rev, header.get("summary", ""), header.get("description", ""), files, oid))
        return _json(200, {"commitUrl": f"{self.endpoint}/datasets/{repo_id}/commit/{oid}", "commitOid": oid, "pullRequestUrl": None})

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep the test output clean
                pass

            def do_HEAD(self) -> None:
                self.answer(send_body=False)

            def do_GET(self) -> None:
                self.answer(send_body=True)

            def do_POST(self) -> None:
                self.answer(send_body=True)

            def answer(self, send_body: bool) -> None:
                raw_path, query = urlsplit(self.path).path, urlsplit(self.path).query
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with hub.lock:
                    hub.requests.append((self.command, unquote(raw_path)))
                    hub.authorizations.append(self.headers.get("Authorization"))
                    method = "GET" if self.command == "HEAD" else self.command
                    status, data, headers = hub.route(method, raw_path, body, query)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if send_body:
                    self.wfile.write(data)

        return Handler

    def __enter__(self) -> FakeHub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _json(status: int, value: Any) -> tuple[int, bytes, dict[str, str]]:
    return status, json.dumps(value).encode(), {"Content-Type": "application/json"}


@contextmanager
def offline_hub_environment(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """huggingface_hub's cache, token and settings in `home` (HF_HOME), online, no proxy for loopback, no
    HF_ENDPOINT / HF_TOKEN from the caller's environment; any attempt to resolve a host other than 127.0.0.1
    fails the test (no network in tests). Use from a fixture: `with offline_hub_environment(tmp, monkeypatch) as home: yield home`."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HOME", str(home))
    # constants were read from the environment at import: point the ones huggingface_hub reads at `home` too
    monkeypatch.setattr(constants, "HF_HOME", str(home))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(home / "stored_tokens"))
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
    for name in ("HF_HUB_OFFLINE", "HF_ENDPOINT", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_OIDC_RESOURCE"):
        monkeypatch.delenv(name, raising=False)
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(proxy, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    yield home
    assert outside == [], f"the test tried to reach {outside}"
