"""Sources and parts on object storage (issue 16), against an S3 server on 127.0.0.1 (moto).

Why: past one machine every node reads the sources and writes the parts through S3. The same files must
give the same rows from S3 as from disk in every container (plain JSON Lines in byte ranges, .gz, .zst,
Parquet, .json, .traj), listing must follow the layout rules (sorted, dot-names skipped), and with no
rename on S3 a build's parts must replace the previous build's only when the conversion succeeds, never
touching objects that are not parts.
"""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
import zstandard

from sera_rectify.parts import build_parts, read_parts
from sera_rectify.sources import COLUMNS, SourceError, list_source_files
from sera_testkit.constants import SAMPLE_DIR, SWE_AGENT_DIR
from sera_testkit.conversion import conversion_files
from sera_testkit.s3 import BUCKET, local_s3, s3_client, upload_folder


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with local_s3() as url:
        yield url


def a_row(instance_id: str) -> dict:
    return {column: "" for column in COLUMNS} | {"messages": "[]", "instance_id": instance_id}


def lines(rows: list[dict]) -> bytes:
    return b"".join(json.dumps(row).encode() + b"\n\n" for row in rows)


def objects(endpoint: str, prefix: str) -> list[str]:
    infos = s3_client(endpoint).get_file_info(pafs.FileSelector(prefix, recursive=True, allow_not_found=True))
    return sorted(info.path[len(prefix) + 1 :] for info in infos if info.is_file)


def rows_of(manifest: pa.Table) -> list[tuple]:
    return [(r["source_file"], r["source_row"], r["instance_id"], r["reject_reason"]) for r in read_parts(manifest).to_pylist()]


@pytest.fixture(scope="module")
def dataset(endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One dataset in every SERA container, with blank lines and a bad line, on disk and on S3."""
    folder = tmp_path_factory.mktemp("local") / "D"
    (folder / "sub").mkdir(parents=True)
    text = lines([a_row(f"p{i}") for i in range(40)]) + b"[1]\n" + lines([a_row("last")])
    (folder / "a.jsonl").write_bytes(text)
    (folder / "sub" / "b.jsonl.gz").write_bytes(gzip.compress(lines([a_row("g0"), a_row("g1")])))
    (folder / "c.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(lines([a_row("z0")])))
    pq.write_table(pa.Table.from_pylist([a_row("q0"), a_row("q1")]), folder / "d.parquet")
    (folder / ".hidden").mkdir()
    (folder / ".hidden" / "x.jsonl").write_bytes(lines([a_row("hidden")]))
    (folder / "notes.txt").write_text("not data")
    upload_folder(endpoint, folder, f"s3://{BUCKET}/sources/D")
    return folder


def test_listing_on_s3_equals_the_local_one(endpoint: str, dataset: Path) -> None:
    local = list_source_files(str(dataset), "D")
    remote = list_source_files(f"s3://{BUCKET}/sources/D", "D")
    assert [(f.source_file, f.file_format, f.file_bytes) for f in remote] == [(f.source_file, f.file_format, f.file_bytes) for f in local]
    assert [f.source_file for f in remote] == ["D/a.jsonl", "D/c.jsonl.zst", "D/d.parquet", "D/sub/b.jsonl.gz"]
    assert remote[0].path == f"s3://{BUCKET}/sources/D/a.jsonl"


def test_a_missing_prefix_is_an_error_naming_it(endpoint: str) -> None:
    with pytest.raises(SourceError, match=rf"dataset folder s3://{BUCKET}/sources/Nope is missing"):
        list_source_files(f"s3://{BUCKET}/sources/Nope", "Nope")


def test_every_container_gives_the_same_rows_from_s3_as_from_disk(
    endpoint: str, dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sera_rectify.chunks.CHUNK_MAX_BYTES", 700)  # a.jsonl in several byte ranges
    local = build_parts(conversion_files(str(dataset), "D"), str(tmp_path / "parts"), workers=2)
    remote = build_parts(conversion_files(f"s3://{BUCKET}/sources/D", "D"), f"s3://{BUCKET}/converted-rows", workers=2)
    assert len(set(remote.column("chunk_number").to_pylist())) > 4
    assert rows_of(remote) == rows_of(local)
    assert [row[1] for row in rows_of(remote) if row[0] == "D/a.jsonl"] == list(range(42))


def test_traj_and_json_files_from_s3(endpoint: str, tmp_path: Path) -> None:
    folder = tmp_path / "runs"
    folder.mkdir()
    for path in sorted(SWE_AGENT_DIR.glob("*.traj"))[:2]:
        shutil.copy(path, folder / path.name)
    (folder / "rows.json").write_text(json.dumps([{"messages": "not a list"}]))
    upload_folder(endpoint, folder, f"s3://{BUCKET}/runs")
    local = build_parts(conversion_files(str(folder), "runs", "traj", "swe-agent"), str(tmp_path / "parts"), workers=1)
    remote = build_parts(conversion_files(f"s3://{BUCKET}/runs", "runs", "traj", "swe-agent"), f"s3://{BUCKET}/converted-traj", workers=1)
    assert rows_of(remote) == rows_of(local)
    assert read_parts(remote).column("messages").to_pylist() == read_parts(local).column("messages").to_pylist()


def test_a_build_replaces_the_previous_runs_parts_only_when_it_succeeds(endpoint: str, tmp_path: Path) -> None:
    sources = tmp_path / "S"
    (sources / "D").mkdir(parents=True)
    (sources / "D" / "a.jsonl").write_bytes(lines([a_row("old")]))
    upload_folder(endpoint, sources, f"s3://{BUCKET}/replace")
    converted = f"s3://{BUCKET}/converted-replace"
    first = build_parts(conversion_files(f"s3://{BUCKET}/replace/D", "D"), converted, workers=1)
    [first_run] = {name.split("/")[0] for name in objects(endpoint, f"{BUCKET}/converted-replace")}
    assert first_run.startswith("run-") and first.column("part_path")[0].as_py().startswith(f"{converted}/{first_run}/part-")

    (sources / "D" / "a.jsonl").write_bytes(lines([{"messages": "[]"}]))  # every other column missing: the build fails
    upload_folder(endpoint, sources, f"s3://{BUCKET}/replace")
    with pytest.raises(SourceError, match="has no column instance_id"):
        build_parts(conversion_files(f"s3://{BUCKET}/replace/D", "D"), converted, workers=1)
    assert {name.split("/")[0] for name in objects(endpoint, f"{BUCKET}/converted-replace")} == {first_run}
    assert rows_of(first) == [("D/a.jsonl", 0, "old", "messages_empty")]

    (sources / "D" / "a.jsonl").write_bytes(lines([a_row("new")]))
    upload_folder(endpoint, sources, f"s3://{BUCKET}/replace")
    second = build_parts(conversion_files(f"s3://{BUCKET}/replace/D", "D"), converted, workers=1)
    runs = {name.split("/")[0] for name in objects(endpoint, f"{BUCKET}/converted-replace")}
    assert len(runs) == 1 and runs != {first_run}
    assert rows_of(second) == [("D/a.jsonl", 0, "new", "messages_empty")]


def test_a_prefix_holding_other_objects_is_refused_untouched(endpoint: str, dataset: Path) -> None:
    client = s3_client(endpoint)
    with client.open_output_stream(f"{BUCKET}/home/notes.txt") as out:
        out.write(b"keep me")
    with pytest.raises(SourceError, match=r"converted_dir s3://sera-test/home holds other things than conversion parts \(notes\.txt\)"):
        build_parts(conversion_files(f"s3://{BUCKET}/sources/D", "D"), f"s3://{BUCKET}/home", workers=1)
    assert objects(endpoint, f"{BUCKET}/home") == ["notes.txt"]


def test_a_token_cache_on_s3_is_what_every_task_reads(endpoint: str, dataset: Path, tmp_path: Path) -> None:
    """token_cache_dir on S3 (what a Ray cluster's nodes all reach): the first build counts and writes the
    cache there, a second build reads every count from it, with the same n_tokens."""
    from sera_rectify import tokens
    from sera_testkit.tokenizer import make_tokenizer

    spec = tokens.TokenizerSpec(str(make_tokenizer(tmp_path / "tok")), None)
    cache_dir = f"s3://{BUCKET}/token-cache"
    upload_folder(endpoint, SAMPLE_DIR / "Sera-4.6-Lite-T2" / "real", f"s3://{BUCKET}/real/T2")  # three real rows
    files = conversion_files(f"s3://{BUCKET}/real/T2", "T2")
    first = tokens.TokenSettings.prepare(spec, cache_dir)
    assert first.cache_version == 0 and first.cache_file.startswith(f"{cache_dir}/n_tokens-")
    counted = read_parts(build_parts(files, f"s3://{BUCKET}/converted-tokens", workers=1, tokens=first)).column("n_tokens")
    assert objects(endpoint, f"{BUCKET}/token-cache") == [first.cache_file.rsplit("/", 1)[1]]
    second = tokens.TokenSettings.prepare(spec, cache_dir)
    assert second.cache_version > 0 and len(tokens.read_cache(second.cache_file)) > 0
    progress = []
    recounted = read_parts(
        build_parts(files, f"s3://{BUCKET}/converted-tokens", workers=1, tokens=second, report=progress.append)
    ).column("n_tokens")
    assert recounted.equals(counted) and counted.null_count == 0 and len(counted) == 3
    assert "n_tokens: 0 rows counted with the tokenizer" in progress[-1]
