"""`download` (python/sera_rectify/download.py), offline: huggingface_hub's real snapshot_download runs against a
fake Hub served on 127.0.0.1.

The fake Hub (sera_testkit.fake_hub) answers the requests huggingface_hub 2.4.0 makes for a dataset repo:
repo_info, the recursive tree, HEAD and GET of each file. Files carry no Xet headers, so the plain HTTP download
path runs (the real Hub serves large files from Xet storage: not emulated).
"""

from __future__ import annotations

import argparse
import csv
import errno
import hashlib
import importlib.util
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sera_rectify import download, sources
from sera_testkit.constants import DATASETS_SEED
from sera_testkit.fake_hub import FakeHub, offline_hub_environment

DATASET = "Sera-4.6-Lite-T2"
REPO_ID = f"allenai/{DATASET}"
COMMIT = hashlib.sha1(b"fake Sera-4.6-Lite-T2 commit").hexdigest()
DATA_FILE = "data/sera-4.6-lite-t2_2_string_enriched.jsonl"
FILES = {
    DATA_FILE: b'{"messages": "[]", "instance_id": "tinydb_10309"}\n{"messages": "[]", "instance_id": "cantools_10317"}\n',
    "README.md": b"---\nlicense: odc-by\n---\n# Sera-4.6-Lite-T2\n",
    ".gitattributes": b"*.jsonl filter=lfs diff=lfs merge=lfs -text\n",
}


@pytest.fixture
def hub_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """huggingface_hub's cache and settings in tmp; nothing but 127.0.0.1 reachable (sera_testkit.fake_hub)."""
    with offline_hub_environment(tmp_path / "hf_home", monkeypatch) as home:
        yield home


def one_repo_hub(files: dict[str, bytes] = FILES) -> FakeHub:
    """The shared fake Hub holding one repo, REPO_ID, whose main branch is at COMMIT."""
    return FakeHub({REPO_ID: files}, commit=COMMIT)


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
    with one_repo_hub() as hub:
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
        assert sum(len(list(sources.iter_lines(f.path))) for f in found) == 2

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
    with one_repo_hub() as hub:
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
    with one_repo_hub() as hub:  # holds Sera-4.6-Lite-T2 only
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
    with one_repo_hub() as hub:
        assert run_download(["--dest", str(tmp_path / "sources"), "--datasets", DATASET, "--endpoint", hub.endpoint]) == 2
        assert hub.requests == []
    stderr = capfd.readouterr().err
    assert error_lines(stderr) == [line for line in stderr.splitlines() if line.strip() and not line.startswith(f"{DATASET}: ")]
    assert len(error_lines(stderr)) == 1
    assert error_lines(stderr)[0].startswith(f"error: {DATASET}: cannot create {tmp_path / 'sources' / DATASET} (")
    assert error_lines(stderr)[0].endswith("; choose a writable --dest")


def test_repo_without_data_files_is_an_error(tmp_path: Path, hub_env: Path, capfd: pytest.CaptureFixture) -> None:
    card_only = {"README.md": FILES["README.md"]}
    with one_repo_hub(card_only) as hub:
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
    with one_repo_hub() as hub:
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

    with one_repo_hub() as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        assert main(["download", "--dest", str(tmp_path / "sources"), "--datasets", DATASET]) == 0
    assert (tmp_path / "sources" / DATASET / DATA_FILE).is_file()
