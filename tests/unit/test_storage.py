"""Outputs on object storage (issue 16, docs/storage.md): DuckDB's s3:// through the fsspec file system
`sera_s3`, atomic publishing without a rename, and the exports, SFT path and card on s3://.

One moto S3 server on 127.0.0.1 serves the whole module (sera_testkit.s3.local_s3); each test works under
a prefix of its own. `refusing_writes` makes the server itself refuse writes (IAM policy, 403), so "the
object store refuses a write" is a real refusal, not a mock.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import fsspec
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
import yaml
from dbt.adapters.duckdb.credentials import DuckDBCredentials
from dbt.adapters.duckdb.environments import Environment

from sera_rectify import atomic, card, storage
from sera_rectify.export import EmptyExport, ExportWriteError, write_export
from sera_rectify.sft import SFT_FEATURES, default_sft_path
from sera_testkit.s3 import BUCKET, local_s3, refusing_writes, s3_client

REPO = Path(__file__).resolve().parents[2]
ROWS = pa.table(
    {
        "messages": ['[{"role": "system", "content": "a"}]', '[{"role": "system", "content": "b é"}]', None],
        "teacher": ["GLM-4.6", "GLM-4.6", "GLM-4.5-Air"],
        "line_level_recall": [0.5, None, 1.0],
    }
)
QUERY = "select messages, teacher, line_level_recall from rows"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with local_s3() as url:
        yield url


@pytest.fixture
def admin(endpoint: str) -> pafs.S3FileSystem:
    """A client of the test server that is not the code under test (puts and checks objects)."""
    return s3_client(endpoint)


@pytest.fixture
def connection(endpoint: str) -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect() as con:
        storage.register_filesystems(con)
        con.register("rows", ROWS)
        yield con


@contextmanager
def refused(endpoint: str, resource: str) -> Iterator[None]:
    """The server refuses writes to `resource` (bucket/key pattern) in the block, and every request signed
    with other credentials than the refused user's (so the admin client checks after it). storage's S3
    file system keeps the credentials it was built with: it is built again on both sides."""
    with refusing_writes(endpoint, resource):
        storage.s3_filesystem.cache_clear()
        try:
            yield
        finally:
            storage.s3_filesystem.cache_clear()


def put(admin: pafs.S3FileSystem, inner: str, data: bytes) -> None:
    with admin.open_output_stream(inner) as out:
        out.write(data)


def read(admin: pafs.S3FileSystem, inner: str) -> bytes:
    with admin.open_input_stream(inner) as stream:
        return stream.read()


def keys_under(admin: pafs.S3FileSystem, prefix: str) -> list[str]:
    """The objects under bucket/prefix, as keys relative to it."""
    infos = admin.get_file_info(pafs.FileSelector(f"{BUCKET}/{prefix}", recursive=True, allow_not_found=True))
    return sorted(info.path.removeprefix(f"{BUCKET}/{prefix}/") for info in infos if info.type == pafs.FileType.File)


# ---------------------------------------------------------------------------------------------
# the fsspec file system and DuckDB


def test_the_entry_point_gives_the_lazy_s3_file_system() -> None:
    """pyproject's fsspec.specs entry point is installed and resolves; building it builds no pyarrow S3
    file system (that probes the network), so registering it costs nothing while no path is on S3."""
    (entry,) = importlib.metadata.entry_points(group="fsspec.specs", name=storage.FSSPEC_NAME)
    assert entry.value == "sera_rectify.storage:S3ForDuckDB"
    storage.s3_filesystem.cache_clear()
    filesystem = fsspec.filesystem(storage.FSSPEC_NAME, skip_instance_cache=True)
    assert isinstance(filesystem, storage.S3ForDuckDB)
    assert "s3" in filesystem.protocol
    assert storage.s3_filesystem.cache_info().currsize == 0


def test_the_dbt_profile_registers_it_on_the_connection(endpoint: str, admin: pafs.S3FileSystem) -> None:
    """profiles.yml's `filesystems`, through dbt-duckdb's own connection set-up, lets SQL read s3://."""
    profile = yaml.safe_load((REPO / "profiles.yml").read_text(encoding="utf-8"))["sera_rectify"]["outputs"]["dev"]
    assert profile["filesystems"] == [{"fs": storage.FSSPEC_NAME}]
    put(admin, f"{BUCKET}/profile/one.parquet", parquet_bytes(pa.table({"i": [7]})))
    with Environment.initialize_db(DuckDBCredentials(path=":memory:", filesystems=profile["filesystems"])) as con:
        assert con.execute(f"select i from read_parquet('s3://{BUCKET}/profile/one.parquet')").fetchall() == [(7,)]


def parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def test_duckdb_globs_parts_in_name_order_and_copies_to_s3(connection: duckdb.DuckDBPyConnection, admin: pafs.S3FileSystem) -> None:
    for n in (3, 1, 10, 2):  # put out of order: the glob's order must come from the names
        put(admin, f"{BUCKET}/parts/part-{n:05d}.parquet", parquet_bytes(pa.table({"n": [n, n]})))
    storage.register_filesystems(connection)  # a second registration is a no-op, not DuckDB's error
    rows = connection.execute(f"select n, filename from read_parquet('s3://{BUCKET}/parts/part-*.parquet', filename = true)").fetchall()
    assert [n for n, _ in rows] == [1, 1, 2, 2, 3, 3, 10, 10]
    assert rows[0][1] == f"s3://{BUCKET}/parts/part-00001.parquet"
    connection.execute(f"create view parts as select * from read_parquet('s3://{BUCKET}/parts/*.parquet')")
    connection.execute(f"copy (select sum(n) as total from parts) to 's3://{BUCKET}/copied/total.parquet' (format parquet)")
    assert pq.read_table(io.BytesIO(read(admin, f"{BUCKET}/copied/total.parquet"))).to_pylist() == [{"total": 32}]


# ---------------------------------------------------------------------------------------------
# atomic files on object storage


def test_atomic_file_publishes_a_whole_object_and_removes_stale_and_temporary_keys(admin: pafs.S3FileSystem) -> None:
    target = f"s3://{BUCKET}/atomic-ok/x.parquet"
    put(admin, f"{BUCKET}/atomic-ok/x.parquet", b"old")
    put(admin, f"{BUCKET}/atomic-ok/x.parquet{atomic.TEMP_MARKER}99999", b"half of a killed build")
    put(admin, f"{BUCKET}/atomic-ok/x.parquet.other", b"not ours")
    put(admin, f"{BUCKET}/atomic-ok/y.parquet{atomic.TEMP_MARKER}1", b"another target's")
    with atomic.atomic_file(target) as temporary:
        assert temporary == f"{target}{atomic.TEMP_MARKER}{os.getpid()}"
        storage.write_bytes(temporary, b"new")
        assert read(admin, f"{BUCKET}/atomic-ok/x.parquet") == b"old"  # nothing published before the block ends
    assert read(admin, f"{BUCKET}/atomic-ok/x.parquet") == b"new"
    assert keys_under(admin, "atomic-ok") == ["x.parquet", "x.parquet.other", f"y.parquet{atomic.TEMP_MARKER}1"]


def test_atomic_file_failing_keeps_the_old_object_and_no_temporary_key(admin: pafs.S3FileSystem) -> None:
    target = f"s3://{BUCKET}/atomic-fail/x.parquet"
    put(admin, f"{BUCKET}/atomic-fail/x.parquet", b"old")
    with pytest.raises(RuntimeError, match="killed"), atomic.atomic_file(target) as temporary:
        storage.write_bytes(temporary, b"half")
        raise RuntimeError("killed mid-write")
    assert read(admin, f"{BUCKET}/atomic-fail/x.parquet") == b"old"
    assert keys_under(admin, "atomic-fail") == ["x.parquet"]


def test_a_refused_publish_keeps_the_old_object_and_says_why(endpoint: str, admin: pafs.S3FileSystem) -> None:
    """The server accepts the temporary key and refuses the copy onto the target (S3 CopyObject)."""
    target = f"s3://{BUCKET}/publish-refused/x.parquet"
    put(admin, f"{BUCKET}/publish-refused/x.parquet", b"old")
    with (
        refused(endpoint, f"{BUCKET}/publish-refused/x.parquet"),
        pytest.raises(atomic.PublishError) as raised,
        atomic.atomic_file(target) as temporary,
    ):
        storage.write_bytes(temporary, b"new")
    message = str(raised.value)
    assert f"could not publish {target}" in message
    assert "ACCESS_DENIED" in message
    assert f"{target} is left as it was" in message
    assert "aws s3 cp" in message
    assert read(admin, f"{BUCKET}/publish-refused/x.parquet") == b"old"
    assert keys_under(admin, "publish-refused") == ["x.parquet"]


def test_the_publish_error_of_a_file_over_5_gb_names_the_limit_and_the_way_round() -> None:
    error = OSError("AWS Error INVALID_REQUEST during CopyObject operation: The specified copy source is larger than the maximum")
    big = atomic.publish_error_message("s3://b/x.parquet", "s3://b/x.parquet.tmp-1", 6 * 1024**3, error)
    assert "6,442,450,944 bytes, over the 5 GB (5,368,709,120 bytes) S3 CopyObject copies in one request" in big
    assert "s3://b/x.parquet is left as it was" in big
    assert "write this export to a local path instead and upload it with `aws s3 cp`" in big.lower()
    small = atomic.publish_error_message("s3://b/x.parquet", "s3://b/x.parquet.tmp-1", 10, error)
    assert "over the 5 GB" not in small
    assert "s3:PutObject" in small


# ---------------------------------------------------------------------------------------------
# exports, SFT path and card on object storage


def test_an_export_on_s3_is_byte_identical_to_the_local_one(endpoint: str, admin: pafs.S3FileSystem, tmp_path: Path) -> None:
    """Also on a connection that was not given the file system (a dbt profile without `filesystems`)."""
    with duckdb.connect() as plain:
        plain.register("rows", ROWS)
        local = write_export(plain, QUERY, str(tmp_path / "x.parquet"), filters="f", hf_features=SFT_FEATURES)
        uri = f"s3://{BUCKET}/export-same/x.parquet"
        remote = write_export(plain, QUERY, uri, filters="f", hf_features=SFT_FEATURES)
    assert read(admin, f"{BUCKET}/export-same/x.parquet") == (tmp_path / "x.parquet").read_bytes()
    assert remote == local | {"export_path": uri}
    assert remote["n_bytes"] == (tmp_path / "x.parquet").stat().st_size
    assert keys_under(admin, "export-same") == ["x.parquet"]


def test_an_empty_export_on_s3_is_refused_and_keeps_the_previous_object(
    connection: duckdb.DuckDBPyConnection, admin: pafs.S3FileSystem
) -> None:
    uri = f"s3://{BUCKET}/export-empty/x.parquet"
    with pytest.raises(EmptyExport, match=rf"no converted row has teacher = 'GLM-5'; nothing was written to {uri}\."):
        write_export(connection, QUERY + " where false", uri, filters="teacher = 'GLM-5'")
    write_export(connection, QUERY, uri)
    before = read(admin, f"{BUCKET}/export-empty/x.parquet")
    with pytest.raises(EmptyExport, match=rf"{uri} is left as it was"):
        write_export(connection, QUERY + " where false", uri, filters="teacher = 'GLM-5'")
    assert read(admin, f"{BUCKET}/export-empty/x.parquet") == before
    assert keys_under(admin, "export-empty") == ["x.parquet"]


def test_an_export_the_server_refuses_to_write_keeps_the_old_export(
    endpoint: str, connection: duckdb.DuckDBPyConnection, admin: pafs.S3FileSystem
) -> None:
    """The object store refuses the write (403 on the temporary key): one readable error, old export intact."""
    uri = f"s3://{BUCKET}/export-refused/x.parquet"
    write_export(connection, QUERY, uri)
    before = read(admin, f"{BUCKET}/export-refused/x.parquet")
    with refused(endpoint, f"{BUCKET}/export-refused/*"), pytest.raises(ExportWriteError) as raised:
        write_export(connection, QUERY + " where teacher = 'GLM-4.6'", uri)
    message = str(raised.value)
    assert message.startswith(f"could not write the export {uri}: ")
    assert "ACCESS_DENIED" in message
    assert "Traceback" not in message
    assert f"{uri} is left as it was" in message
    assert "s3:PutObject" in message
    assert read(admin, f"{BUCKET}/export-refused/x.parquet") == before
    assert keys_under(admin, "export-refused") == ["x.parquet"]


def test_an_export_whose_upload_breaks_mid_write_keeps_the_old_export(
    connection: duckdb.DuckDBPyConnection, admin: pafs.S3FileSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection drops after part of the file went out: the half object under the temporary key
    is removed, the target keeps the old export."""
    uri = f"s3://{BUCKET}/export-broken/x.parquet"
    write_export(connection, QUERY, uri)
    before = read(admin, f"{BUCKET}/export-broken/x.parquet")
    opened = storage.S3ForDuckDB._open

    def open_breaking(self, path, mode="rb", **kwargs):
        file = opened(self, path, mode, **kwargs)
        if mode == "wb":
            file.stream = BreakingStream(file.stream)
        return file

    monkeypatch.setattr(storage.S3ForDuckDB, "_open", open_breaking)
    with pytest.raises(ExportWriteError, match=rf"could not write the export {uri}: ConnectionResetError: connection reset by peer"):
        write_export(connection, QUERY, uri)
    assert read(admin, f"{BUCKET}/export-broken/x.parquet") == before
    assert keys_under(admin, "export-broken") == ["x.parquet"]


class BreakingStream:
    """An upload stream whose first write sends half its bytes, then loses the connection."""

    def __init__(self, stream: pa.NativeFile) -> None:
        self.stream = stream

    def __getattr__(self, name: str):
        return getattr(self.stream, name)

    def write(self, data: bytes) -> int:
        self.stream.write(bytes(data)[: len(data) // 2])
        raise ConnectionResetError("connection reset by peer")


def test_the_sft_export_card_and_picture_go_beside_an_export_on_s3(admin: pafs.S3FileSystem) -> None:
    export = f"s3://{BUCKET}/card/out/x.parquet"
    assert default_sft_path(export) == f"s3://{BUCKET}/card/out/x_sft.parquet"
    card_path = card.card_path_for(export)
    assert card_path == f"s3://{BUCKET}/card/out/README.md"
    assert card.relative_file(default_sft_path(export), card_path) == "x_sft.parquet"
    assert card.relative_file(f"s3://{BUCKET}/card/out/sub/y.parquet", card_path) == "sub/y.parquet"
    assert card.relative_file(f"s3://{BUCKET}/elsewhere/y.parquet", card_path) == "y.parquet"
    assert card.write_card("new card é\n", card_path) == {"card_path": card_path, "n_bytes": len("new card é\n".encode())}
    tokens = {"histogram": [{"bin_start": 0, "bin_end": 10, "n_rows": 2}], "max_tokens": 8, "tokenizer": "t"}
    card.write_histogram(tokens, storage.sibling(card_path, card.HISTOGRAM_NAME))
    assert read(admin, f"{BUCKET}/card/out/README.md") == "new card é\n".encode()
    assert read(admin, f"{BUCKET}/card/out/{card.HISTOGRAM_NAME}")[:8] == b"\x89PNG\r\n\x1a\n"
    assert keys_under(admin, "card/out") == ["README.md", card.HISTOGRAM_NAME]
    put(admin, f"{BUCKET}/card/out/x.parquet", parquet_bytes(ROWS))
    assert card.parquet_rows(export) == 3


# ---------------------------------------------------------------------------------------------
# clients that open DuckDB themselves: views over parts on S3 read there too


def database_with_a_view_over_s3(path: Path, parts: str) -> None:
    """A database file like the build's: a view over Parquet parts on S3 (made on a registered connection)."""
    with duckdb.connect(str(path)) as con:
        storage.register_filesystems(con)
        con.execute(f"create view parts as select * from read_parquet('{parts}')")


def test_scripts_query_reads_views_over_parts_on_s3(admin: pafs.S3FileSystem, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    put(admin, f"{BUCKET}/query/part-00000.parquet", parquet_bytes(ROWS))
    database_with_a_view_over_s3(tmp_path / "sera.duckdb", f"s3://{BUCKET}/query/part-*.parquet")
    (tmp_path / "q.sql").write_text("-- rows per teacher\nselect teacher, count(*) as n from parts group by teacher order by teacher\n")
    spec = importlib.util.spec_from_file_location("query_script", REPO / "scripts" / "query.py")
    query = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(query)
    out = f"s3://{BUCKET}/query/out/result.parquet"
    assert query.main([str(tmp_path / "q.sql"), "--db", str(tmp_path / "sera.duckdb"), "--out", out]) == 0
    assert pq.read_table(io.BytesIO(read(admin, f"{BUCKET}/query/out/result.parquet"))).to_pylist() == [
        {"teacher": "GLM-4.5-Air", "n": 1},
        {"teacher": "GLM-4.6", "n": 2},
    ]
    assert "GLM-4.5-Air" in capsys.readouterr().out
    assert not (Path.cwd() / "s3:").exists()  # --out on S3 made no local folder


def test_the_card_command_writes_beside_an_export_on_s3(admin: pafs.S3FileSystem, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """`python -m sera_rectify card --export s3://...`: the marts are views over parts on S3 (here one of
    them), the export and its SFT file are found there, and the card is written beside them."""
    put(admin, f"{BUCKET}/card-cli/parts/reject_summary.parquet", parquet_bytes(pa.table({"reason": ["not_submitted"], "n_rows": [2]})))
    put(admin, f"{BUCKET}/card-cli/out/x.parquet", parquet_bytes(ROWS))
    put(admin, f"{BUCKET}/card-cli/out/x_sft.parquet", parquet_bytes(ROWS.slice(0, 2)))
    database = tmp_path / "sera.duckdb"
    with duckdb.connect(str(database)) as con:
        storage.register_filesystems(con)
        con.execute(
            f"""
            create view reject_summary as select reason, n_rows, 'the last tool call is not a submit' as meaning
                from read_parquet('s3://{BUCKET}/card-cli/parts/reject_summary.parquet');
            create table source_reconciliation (source_dataset varchar, hub_repo_id varchar, teacher varchar, scale varchar,
                rollout varchar, source_format varchar, license varchar, attribution varchar, rows_read bigint, rows_out bigint,
                rows_rejected bigint, dataset_order integer);
            create table dataset_summary as select null::varchar as teacher, null::varchar as scale, null::varchar as rollout,
                true as is_total, 3 as n_rows, 1 as min_messages, 1.0 as avg_messages, 1 as max_messages, 0 as min_tool_calls,
                0.0 as avg_tool_calls, 0 as max_tool_calls, null::double as avg_line_level_recall;
            create table stg_training__tokenizer as select null::varchar as description, null::varchar as fingerprint;
            create table export_filters as select null::varchar as filters, null::integer as max_tokens;
            create table flag_summary (flag varchar, meaning varchar, needs_benchmark boolean, is_total boolean,
                source_dataset varchar, n_rows bigint, benchmark varchar, n_benchmark_tasks bigint, flag_position integer,
                dataset_order integer);
            create table token_summary (x integer);
            create table token_histogram (x integer);
            create table sera_rectified_export as select 's3://{BUCKET}/card-cli/out/x.parquet' as export_path, 'rollout = ''T2''' as filters;
            """
        )
    parser = argparse.ArgumentParser()
    card.add_arguments(parser)
    assert card.run(parser.parse_args(["--db", str(database), "--export", f"s3://{BUCKET}/card-cli/out/x.parquet"])) == 0
    assert f"wrote s3://{BUCKET}/card-cli/out/README.md" in capsys.readouterr().out
    text = read(admin, f"{BUCKET}/card-cli/out/README.md").decode()
    assert "not_submitted" in text  # read through the view over S3
    assert "rollout = 'T2'" in text  # the manifest's filters, matched by URI
    assert "path: x_sft.parquet" in text  # the SFT export found beside it, named relative to the card
    assert keys_under(admin, "card-cli/out") == ["README.md", "x.parquet", "x_sft.parquet"]
