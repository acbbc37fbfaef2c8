"""spec/sources.md: the layout on disk, bad lines, bad files, and the project's copies of the contract."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from sera_rectify import reasons
from sera_rectify.parts import build_parts, read_parts
from sera_rectify.sources import COLUMNS, SourceError, iter_lines, list_source_files, parse_line, read_line_range
from sera_testkit.constants import PACKAGE_SPEC_DIR, SHARED_DIR
from sera_testkit.conversion import conversion_files

SHARED_SPEC = SHARED_DIR / "spec"


def a_row(instance_id: str = "repo_1", **overrides: object) -> dict:
    row = {column: "" for column in COLUMNS}
    row.update(messages="[]", instance_id=instance_id)
    row.update(overrides)
    return row


def write_jsonl(path: Path, rows: list[dict | str | bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [r if isinstance(r, bytes) else (r if isinstance(r, str) else json.dumps(r)).encode() for r in rows]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def file_rows(sources: Path, dataset: str, rollout: str = "T1") -> list[dict]:
    return conversion_files(str(sources / dataset), dataset, rollout=rollout)


def convert_folder(sources: Path, dataset: str, rollout: str = "T1") -> list[dict]:
    manifest = build_parts(file_rows(sources, dataset, rollout), str(sources / "converted"), workers=1)
    return read_parts(manifest).to_pylist()


def test_list_source_files_sorted_at_any_depth_skipping_dot_names_following_symlinks(tmp_path: Path) -> None:
    dataset = tmp_path / "Sera-4.6-Lite-T1"
    write_jsonl(dataset / "b.jsonl", [a_row()])
    write_jsonl(dataset / "a" / "z.jsonl", [a_row()])
    write_jsonl(dataset / ".cache" / "x.jsonl", [a_row()])
    write_jsonl(dataset / ".hidden.jsonl", [a_row()])
    (dataset / "README.md").write_text("not data")
    elsewhere = write_jsonl(tmp_path / "elsewhere" / "linked.jsonl", [a_row()])
    os.symlink(elsewhere.parent, dataset / "c_link")
    found = [f.source_file for f in list_source_files(str(tmp_path / "Sera-4.6-Lite-T1"), "Sera-4.6-Lite-T1")]
    assert found == ["Sera-4.6-Lite-T1/a/z.jsonl", "Sera-4.6-Lite-T1/b.jsonl", "Sera-4.6-Lite-T1/c_link/linked.jsonl"]


def test_missing_dataset_folder_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"Sera-4\.5A-Full-T2 is missing.*datasets"):
        list_source_files(str(tmp_path / "Sera-4.5A-Full-T2"), "Sera-4.5A-Full-T2")


def test_dataset_folder_without_data_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "Sera-4.5A-Full-T1").mkdir()
    (tmp_path / "Sera-4.5A-Full-T1" / "notes.txt").write_text("x")
    with pytest.raises(SourceError, match="holds no data file"):
        list_source_files(str(tmp_path / "Sera-4.5A-Full-T1"), "Sera-4.5A-Full-T1")


def test_blank_lines_are_not_rows_in_plain_gzip_and_zstd(tmp_path: Path) -> None:
    row = json.dumps(a_row()).encode()
    text = row + b"\n\n   \n" + row + b"\r\n\n" + row
    (tmp_path / "D").mkdir()
    (tmp_path / "D" / "p.jsonl").write_bytes(text)
    (tmp_path / "D" / "g.jsonl.gz").write_bytes(gzip.compress(text))
    (tmp_path / "D" / "z.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(text))
    rows = convert_folder(tmp_path, "D")
    assert [(r["source_file"], r["source_row"]) for r in rows] == [(f"D/{name}", row) for name in ("g.jsonl.gz", "p.jsonl", "z.jsonl.zst") for row in range(3)]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b'{"messages": "[]", "instance_id": "x\xff"}', reasons.LINE_NOT_UTF8),
        (b'{"messages": "[]", "instance_id": "trunc', reasons.LINE_NOT_JSON),
        (b"[1, 2, 3]", reasons.LINE_NOT_AN_OBJECT),
        (b'"just a string"', reasons.LINE_NOT_AN_OBJECT),
    ],
)
def test_parse_line_rejects_bad_lines(line: bytes, reason: str) -> None:
    assert parse_line(line).reason == reason


def test_parse_line_accepts_lone_surrogate_escapes() -> None:
    assert parse_line(b'{"instance_id": "a\\ud83db"}') == {"instance_id": "a\ud83db"}


def test_bad_lines_become_rejects_with_their_row_number(tmp_path: Path) -> None:
    rows = [json.dumps(a_row("ok_0")), b"", b"[1, 2, 3]", b'{"instance_id": "x\xff"}', json.dumps(a_row("ok_3")), b'{"trunc']
    write_jsonl(tmp_path / "D" / "f.jsonl", rows)
    out = convert_folder(tmp_path, "D")
    assert [(r["source_row"], r["reject_reason"]) for r in out] == [
        (0, reasons.MESSAGES_EMPTY),
        (1, reasons.LINE_NOT_AN_OBJECT),
        (2, reasons.LINE_NOT_UTF8),
        (3, reasons.MESSAGES_EMPTY),
        (4, reasons.LINE_NOT_JSON),
    ]
    assert [r["instance_id"] for r in out] == ["ok_0", None, None, "ok_3", None]


def test_column_missing_from_every_line_is_an_error_naming_file_and_column(tmp_path: Path) -> None:
    row = a_row()
    del row["func_path"]
    write_jsonl(tmp_path / "D" / "f.jsonl", [row, row])
    with pytest.raises(SourceError, match=r"f\.jsonl has no column func_path"):
        convert_folder(tmp_path, "D")


def test_column_missing_from_some_lines_only_is_null_there(tmp_path: Path) -> None:
    partial = a_row("p")
    del partial["func_name"]
    write_jsonl(tmp_path / "D" / "f.jsonl", [a_row("full", func_name="f"), partial])
    out = convert_folder(tmp_path, "D")
    assert [r["func_name"] for r in out] == ["f", None]


def test_file_of_only_bad_lines_is_all_rejects(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "D" / "f.jsonl", [b"[1]", b"{bad"])
    assert [r["reject_reason"] for r in convert_folder(tmp_path, "D")] == [reasons.LINE_NOT_AN_OBJECT, reasons.LINE_NOT_JSON]


def test_parquet_source_rows_and_missing_column(tmp_path: Path) -> None:
    (tmp_path / "D").mkdir()
    pq.write_table(pa.Table.from_pylist([a_row("p0"), a_row("p1")]), tmp_path / "D" / "part-0.parquet")
    assert [(r["source_row"], r["instance_id"]) for r in convert_folder(tmp_path, "D")] == [(0, "p0"), (1, "p1")]
    pq.write_table(pa.Table.from_pylist([{"messages": "[]"}]), tmp_path / "D" / "part-1.parquet")
    with pytest.raises(SourceError, match=r"part-1\.parquet has no column instance_id"):
        convert_folder(tmp_path, "D")


def test_corrupt_gzip_is_an_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "D").mkdir()
    (tmp_path / "D" / "f.jsonl.gz").write_bytes(gzip.compress(b'{"a": 1}\n' * 1000)[:50])
    with pytest.raises(SourceError, match=r"cannot read .*f\.jsonl\.gz"):
        convert_folder(tmp_path, "D")


def test_packaged_spec_files_equal_the_contract() -> None:
    if not SHARED_SPEC.exists():
        pytest.skip("../shared/spec is not beside the repo")
    for name in ("tools.json", "system-prompt.txt", "reasoning-templates.txt"):
        assert (PACKAGE_SPEC_DIR / name).read_bytes() == (SHARED_SPEC / name).read_bytes(), name


def test_every_reason_constant_has_a_meaning() -> None:
    """reasons.py is the one list: each code constant is in MEANINGS (served to SQL by stg_spec__reject_reasons)."""
    constants = {value for name, value in vars(reasons).items() if name.isupper() and isinstance(value, str)}
    assert constants == set(reasons.MEANINGS) == set(reasons.REJECT_REASONS)
    assert all(checked_in and meaning for checked_in, meaning in reasons.MEANINGS.values())


def test_worker_processes_give_the_same_rows_in_the_same_order(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "D" / "f.jsonl", [a_row(f"r{i}") for i in range(600)] + [b"[1]"])
    write_jsonl(tmp_path / "D" / "g.jsonl", [a_row("g0")])
    files = file_rows(tmp_path, "D", "T2")
    single = read_parts(build_parts(files, str(tmp_path / "single"), workers=1))
    parallel = read_parts(build_parts(files, str(tmp_path / "parallel"), workers=2))
    assert parallel.equals(single)
    assert single.num_rows == 602


def test_parts_follow_source_order_one_file_per_part_and_a_part_for_an_empty_file(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "D" / "a.jsonl", [a_row(f"a{i}") for i in range(300)])  # one chunk, 256 + 44 rows: two parts
    (tmp_path / "D" / "b.jsonl").write_bytes(b"\n\n")  # blank lines only: no row, one empty part
    write_jsonl(tmp_path / "D" / "c.jsonl", [a_row("c0")])
    manifest_table = build_parts(file_rows(tmp_path, "D"), str(tmp_path / "parts"), workers=2)
    manifest = manifest_table.to_pylist()
    assert [(m["part_number"], m["chunk_number"], m["source_file"], m["first_source_row"], m["n_rows"]) for m in manifest] == [
        (0, 0, "D/a.jsonl", 0, 256),
        (1, 0, "D/a.jsonl", 256, 44),
        (2, 1, "D/b.jsonl", 0, 0),
        (3, 2, "D/c.jsonl", 0, 1),
    ]
    names = ["part-00000000-000000.parquet", "part-00000000-000001.parquet", "part-00000001-000000.parquet", "part-00000002-000000.parquet"]
    assert [Path(m["part_path"]).name for m in manifest] == names
    assert all(Path(m["part_path"]).is_absolute() and Path(m["part_path"]).is_file() for m in manifest)
    rows = read_parts(manifest_table).to_pylist()
    assert [(r["source_file"], r["source_row"], r["instance_id"]) for r in rows] == [
        *[("D/a.jsonl", i, f"a{i}") for i in range(300)],
        ("D/c.jsonl", 0, "c0"),
    ]


def test_a_failed_conversion_keeps_the_previous_parts(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "D" / "a.jsonl", [a_row("old")])
    parts = tmp_path / "parts"
    build_parts(file_rows(tmp_path, "D"), str(parts), workers=1)
    before = {path.name: path.read_bytes() for path in parts.iterdir()}
    write_jsonl(tmp_path / "D" / "a.jsonl", [{"messages": "[]"}])  # every other column missing: the file fails
    with pytest.raises(SourceError, match="a.jsonl"):
        build_parts(file_rows(tmp_path, "D"), str(parts), workers=1)
    assert {path.name: path.read_bytes() for path in parts.iterdir()} == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["D", "parts"]  # no temporary folder left


def test_converted_dir_holding_other_files_is_refused_untouched(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "D" / "a.jsonl", [a_row()])
    precious = tmp_path / "home" / "notes.txt"
    precious.parent.mkdir()
    precious.write_text("keep me")
    with pytest.raises(SourceError, match=r"holds other things than conversion parts \(notes\.txt\).*set the converted_dir var"):
        build_parts(file_rows(tmp_path, "D"), str(precious.parent), workers=1)
    assert precious.read_text() == "keep me"
    with pytest.raises(SourceError, match="is a file, not a folder"):
        build_parts(file_rows(tmp_path, "D"), str(precious), workers=1)


def test_byte_range_chunks_read_the_same_rows_as_the_line_reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plain .jsonl is planned as byte ranges by its size, each read by its own task; a .jsonl.gz is one
    chunk read line by line. The same bytes give the same rows either way: blank and whitespace-only
    lines skipped, CRLF, a bad line, ranges cut inside runs of blank lines and inside lines, a row larger
    than a range, and a last line without a newline; source_row counts across the ranges."""
    monkeypatch.setattr("sera_rectify.chunks.CHUNK_MAX_BYTES", 2000)
    monkeypatch.setattr("sera_rectify.chunks.PART_MAX_ROWS", 3)
    lines = [json.dumps(a_row(f"r{i}")).encode() for i in range(10)]
    big = json.dumps(a_row("big", func_path="x" * 5000)).encode()
    data = b"\n".join([lines[0], b"", b"  \t", lines[1] + b"\r", lines[2], b"[1, 2]", big, b"\r", *lines[3:9], b"", b"", lines[9]])
    (tmp_path / "plain" / "D").mkdir(parents=True)
    (tmp_path / "plain" / "D" / "f.jsonl").write_bytes(data)
    (tmp_path / "gz" / "D").mkdir(parents=True)
    (tmp_path / "gz" / "D" / "f.jsonl.gz").write_bytes(gzip.compress(data))
    manifests, tables = [], []
    for kind in ("plain", "gz"):
        manifest = build_parts(file_rows(tmp_path / kind, "D"), str(tmp_path / f"parts_{kind}"), workers=2)
        manifests.append(manifest.to_pylist())
        tables.append(read_parts(manifest).drop_columns(["source_file"]))
    assert tables[0].equals(tables[1])
    rows = tables[0].to_pylist()
    assert [r["instance_id"] for r in rows] == ["r0", "r1", "r2", None, "big", "r3", "r4", "r5", "r6", "r7", "r8", "r9"]
    assert [r["source_row"] for r in rows] == list(range(12))
    assert rows[3]["reject_reason"] == reasons.LINE_NOT_AN_OBJECT
    assert len({m["chunk_number"] for m in manifests[0]}) == -(-len(data) // 2000) > 1  # ranges planned by size
    assert len({m["chunk_number"] for m in manifests[1]}) == 1  # a compressed file is one chunk
    assert sum(m["n_rows"] for m in manifests[0]) == sum(m["n_rows"] for m in manifests[1]) == 12


def test_a_parquet_file_in_byte_ranges_gives_each_row_group_once_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Parquet file is planned by its size like a JSON Lines file: each task reads the row groups that
    start in its range. Any range size gives the rows of one whole-file read, numbered across the ranges."""
    (tmp_path / "D").mkdir()
    rows = [a_row(f"q{i}", func_path="x" * (i * 37 % 500)) for i in range(40)]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "D" / "rows.parquet", row_group_size=3)
    [source] = list_source_files(str(tmp_path / "D"), "D")
    whole = [(r["source_row"], r["instance_id"]) for r in convert_folder(tmp_path, "D")]
    assert whole == [(i, f"q{i}") for i in range(40)]
    for size in (50, 700, 2000, source.file_bytes):
        monkeypatch.setattr("sera_rectify.chunks.CHUNK_MAX_BYTES", size)
        manifest = build_parts(file_rows(tmp_path, "D"), str(tmp_path / f"parts-{size}"), workers=2)
        assert [(r["source_row"], r["instance_id"]) for r in read_parts(manifest).to_pylist()] == whole, size
        chunks = manifest.to_pylist()
        assert len({m["chunk_number"] for m in chunks}) == -(-source.file_bytes // size)
        if size < source.file_bytes // 2:  # the row groups are spread over the tasks, not all read by the first
            assert len({m["chunk_number"] for m in chunks if m["n_rows"]}) > 2, size


@pytest.mark.parametrize("tail_bytes", [3, 4 * 1024 * 1024])
def test_byte_ranges_of_any_size_give_every_line_once_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tail_bytes: int) -> None:
    """Whatever the range size, cutting a file into consecutive ranges and reading each on its own gives
    the line reader's lines: a line belongs to the range holding its first byte (a last line read on past
    the range's end in one block or in many)."""
    monkeypatch.setattr("sera_rectify.sources.LINE_TAIL_BYTES", tail_bytes)
    data = b'{"a": 1}\n\n{"bb": 22}\r\n  \n{"c": 3}\n\n\n{"dddd": 4444}\n{"e": 5}'
    path = write_jsonl(tmp_path / "D" / "f.jsonl", [])
    path.write_bytes(data)
    source = list_source_files(str(tmp_path / "D"), "D")[0]
    expected = [line.rstrip(b"\n") for line in iter_lines(str(path))]
    for size in range(1, len(data) + 2):
        read = [line for start in range(0, len(data), size) for line in read_line_range(source, start, min(start + size, len(data)))]
        assert read == expected, size


def test_a_file_that_changes_between_listing_and_reading_is_an_error(tmp_path: Path) -> None:
    from sera_rectify.chunks import Dataset, chunk_records, plan_chunks

    path = write_jsonl(tmp_path / "D" / "f.jsonl", [a_row("a"), a_row("b")])
    source = list_source_files(str(tmp_path / "D"), "D")[0]
    [chunk] = plan_chunks(source, Dataset("D", 1, "GLM-4.6", "lite", "T1"))
    assert [json.loads(line)["instance_id"] for line in chunk_records(chunk)] == ["a", "b"]
    write_jsonl(path, [a_row("a"), a_row("b"), a_row("c")])
    with pytest.raises(SourceError, match=r"f\.jsonl changed while it was read: it had [\d,]+ bytes when listed and has [\d,]+ now"):
        chunk_records(chunk)


def test_a_part_the_storage_did_not_keep_whole_fails_the_build_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store that reports another size than the bytes written (an upload completed wrongly) is caught at
    the write, not later as a decompression error in a reader."""
    import pyarrow.fs as pafs

    class ShortStore:
        local = pafs.LocalFileSystem()

        def open_output_stream(self, path: str, compression: None = None):
            return self.local.open_output_stream(path, compression=compression)

        def get_file_info(self, path: str):
            info = self.local.get_file_info(path)
            return pafs.FileInfo(path, pafs.FileType.File, size=info.size - 1)

    monkeypatch.setattr("sera_rectify.parts.filesystem_of", lambda path: (ShortStore(), path))
    write_jsonl(tmp_path / "D" / "a.jsonl", [a_row("a")])
    with pytest.raises(SourceError, match=r"part-00000000-000000\.parquet holds [\d,]+ bytes after [\d,]+ were written"):
        build_parts(file_rows(tmp_path, "D"), str(tmp_path / "parts"), workers=1)
    assert not (tmp_path / "parts").exists()


def test_part_names_sort_in_source_order_or_the_build_stops() -> None:
    """DuckDB reads the parts in name order: fixed-width numbers keep that the source order, and a number
    too wide for its field is an error rather than a silently reordered export."""
    from sera_rectify.parts import part_name

    names = [part_name(chunk, part) for chunk in (0, 9, 10, 99_999_999) for part in (0, 9, 10, 999_999)]
    assert names == sorted(names)
    for chunk, part in ((10**8, 0), (0, 10**6)):
        with pytest.raises(SourceError, match="Split the dataset"):
            part_name(chunk, part)
