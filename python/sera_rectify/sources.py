"""Reading the source datasets from disk (spec/sources.md): file discovery and row counts, lines, bad lines.

File-level problems raise `SourceError` with what, where and how to fix it; line-level problems
become rejects (`parse_line`), never a failed build.
"""

from __future__ import annotations

import datetime
import gzip
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import yaml
import zstandard

from . import reasons
from .formats import FORMATS
from .jsontext import json_type_name, loads, loads_allowing_surrogates
from .storage import filesystem_of, is_remote, size_of, uri_of

JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.zst")
PARQUET_SUFFIXES = (".parquet",)
TRAJ_SUFFIXES = (".traj",)
TRAJ_YAML_SUFFIXES = (".yaml", ".yml")
JSON_SUFFIXES = (".json",)
SERA_KIND = "sera"
TRAJ_KIND = "traj"
COLUMNS = (
    "messages",
    "instance_id",
    "rollout_patch",
    "func_name",
    "func_path",
    "problem_statement",
    "target_patch",
    "docker_image",
)
READ_BUFFER_BYTES = 16 * 1024 * 1024

# a line that runs past the end of its byte range is read on in blocks of this size to its newline
LINE_TAIL_BYTES = 4 * 1024 * 1024

SOURCE_FILES_SCHEMA = pa.schema(
    [
        ("source_dataset", pa.string()),
        ("source_file", pa.string()),
        ("file_path", pa.string()),
        ("file_format", pa.string()),
        ("file_bytes", pa.int64()),
    ]
)


class SourceError(Exception):
    """A source file or folder that cannot be read: the message says what, where and what to do."""


@dataclass(frozen=True)
class SourceFile:
    """One data file of one dataset; `source_file` is its path relative to sources_dir, `path` a local
    path or an object storage URI, `file_bytes` its size when it was listed."""

    dataset: str
    source_file: str
    path: str
    file_format: str
    file_bytes: int = 0


@dataclass(frozen=True)
class LineReject:
    """A JSON Lines line that is not a JSON object (sources.md, "Bad lines and bad files")."""

    reason: str
    detail: str


def file_format_of(name: str, kind: str = SERA_KIND) -> str | None:
    """The container of a data file: a SERA dataset's 'jsonl' or 'parquet'; a `traj_dirs` folder also
    holds 'traj' and 'traj_yaml' trajectories and 'json' files (one row object or a list of them).
    None for any other file (README, notes, ...)."""
    if kind == TRAJ_KIND:
        if name.endswith(TRAJ_SUFFIXES):
            return "traj"
        if name.endswith(TRAJ_YAML_SUFFIXES):
            return "traj_yaml"
        if name.endswith(JSON_SUFFIXES):
            return "json"
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    return "parquet" if name.endswith(PARQUET_SUFFIXES) else None


def missing_folder_hint(dataset: str, kind: str) -> str:
    if kind == TRAJ_KIND:
        return f"Fix the path of {dataset} in the dbt var traj_dirs."
    return (
        f"Put the files of {dataset} there (`python -m sera_rectify download --dest <sources_dir> --datasets {dataset}`), "
        f"point the dbt var sources_dir at the folder that holds it, or leave it out with --vars '{{datasets: [...]}}'."
    )


def list_source_files(folder: str, dataset: str, kind: str = SERA_KIND) -> list[SourceFile]:
    """The dataset's data files at any depth of its folder (a local folder or an object storage
    prefix), in sorted path order, with their sizes; dot-names skipped, symlinks followed
    (spec/sources.md). source_file is "<dataset>/<path inside the folder>"."""
    found = list_remote_files(folder, dataset, kind) if is_remote(folder) else list_local_files(folder, dataset, kind)
    if not found:
        expected = "*.jsonl, *.jsonl.gz, *.jsonl.zst or *.parquet"
        if kind == TRAJ_KIND:
            expected = "*.traj, *.yaml, *.json, " + expected
        raise SourceError(
            f"dataset folder {folder} holds no data file ({expected}, names not starting with '.'). "
            f"{missing_folder_hint(dataset, kind)}"
        )
    return sorted(found, key=lambda f: f.source_file)


def list_local_files(folder: str, dataset: str, kind: str) -> list[SourceFile]:
    """list_source_files on the local file system (os.walk follows symlinks; pyarrow's selector does not)."""
    root_folder = Path(folder)
    if not root_folder.is_dir():
        raise SourceError(f"dataset folder {root_folder} is missing. {missing_folder_hint(dataset, kind)}")
    found = []
    for root, dirs, names in os.walk(root_folder, followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            file_format = file_format_of(name, kind)
            if name.startswith(".") or file_format is None:
                continue
            path = Path(root) / name
            relative = f"{dataset}/{path.relative_to(root_folder).as_posix()}"
            found.append(SourceFile(dataset, relative, str(path), file_format, path.stat().st_size))
    return found


def list_remote_files(folder: str, dataset: str, kind: str) -> list[SourceFile]:
    """list_source_files on object storage: one recursive listing of the prefix, sizes included."""
    filesystem, prefix = filesystem_of(folder)
    try:
        infos = filesystem.get_file_info(pafs.FileSelector(prefix, recursive=True, allow_not_found=True))
    except (OSError, ValueError) as err:
        raise SourceError(f"cannot list dataset folder {folder}: {err}. Check the URI and the storage credentials.") from None
    if not infos:
        raise SourceError(f"dataset folder {folder} is missing. {missing_folder_hint(dataset, kind)}")
    found = []
    for info in infos:
        relative = info.path[len(prefix) :].lstrip("/")
        file_format = file_format_of(info.base_name, kind)
        if info.type != pafs.FileType.File or file_format is None or any(part.startswith(".") for part in relative.split("/")):
            continue
        found.append(SourceFile(dataset, f"{dataset}/{relative}", uri_of(folder, info.path), file_format, info.size))
    return found


def open_random_access(path: str) -> IO[bytes]:
    """A seekable binary handle on a local file or an object (ranged reads on object storage)."""
    if not is_remote(path):
        return open(path, "rb", buffering=READ_BUFFER_BYTES)
    filesystem, inner = filesystem_of(path)
    return filesystem.open_input_file(inner)


def open_binary(path: str) -> IO[bytes]:
    """The file's bytes, decompressed for .gz and .zst (on object storage: pyarrow's stream, which
    decompresses by the name's extension)."""
    if is_remote(path):
        filesystem, inner = filesystem_of(path)
        return io.BufferedReader(filesystem.open_input_stream(inner, compression="detect"), READ_BUFFER_BYTES)
    if path.endswith(".gz"):
        return gzip.open(path, "rb")
    raw = open(path, "rb", buffering=READ_BUFFER_BYTES)
    if path.endswith(".zst"):
        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw, closefd=True), READ_BUFFER_BYTES)
    return raw


def is_blank(line: bytes) -> bool:
    """Blank lines are skipped and do not count as rows (sources.md). isspace stops at the first
    non-space byte, where strip() would copy a line of hundreds of KB."""
    return not line or line.isspace()


def unreadable(path: str, rows: int, err: Exception) -> SourceError:
    return SourceError(
        f"cannot read {path} after {rows:,} rows: {err}. Re-download or repair the file, or move it out of the dataset folder."
    )


def iter_lines(path: str) -> Iterator[bytes]:
    """The non-blank lines of a JSON Lines file, one at a time (rows can be hundreds of MB)."""
    rows = 0
    try:
        with open_binary(path) as handle:
            for line in handle:
                if not is_blank(line):
                    rows += 1
                    yield line
    except (OSError, EOFError, zstandard.ZstdError) as err:
        raise unreadable(path, rows, err) from None


def is_plain_jsonl(source: SourceFile) -> bool:
    """An uncompressed JSON Lines file: any byte range of it can be read on its own."""
    return source.file_format == "jsonl" and not source.path.endswith((".gz", ".zst"))


def file_size(handle: IO[bytes]) -> int:
    """The size of an open file or object, from its handle (one listing is all the planning reads)."""
    return handle.size() if hasattr(handle, "size") else os.fstat(handle.fileno()).st_size


def check_listed_size(source: SourceFile, size: int) -> None:
    """A file read in byte ranges planned from its listed size must still have that size: one that
    changed while it was read would give rows twice or not at all."""
    if size != source.file_bytes:
        raise SourceError(
            f"{source.path} changed while it was read: it had {source.file_bytes:,} bytes when listed and has {size:,} now. "
            "Build again once the file is complete."
        )


def rest_of_line(handle: IO[bytes]) -> bytes:
    """The bytes from the handle's position through the next newline (or the end of the file), read in
    blocks of LINE_TAIL_BYTES and joined once: a row can be hundreds of MB."""
    blocks = []
    while block := handle.read(LINE_TAIL_BYTES):
        newline = block.find(b"\n")
        if newline >= 0:
            blocks.append(block[: newline + 1])
            break
        blocks.append(block)
    return b"".join(blocks)


def read_line_range(source: SourceFile, start: int, end: int) -> list[bytes]:
    """The non-blank lines of a plain JSON Lines file that start in bytes [start, end), without their
    newline. A line belongs to the range holding its first byte: a range after the first skips the
    line that began before it, and its last line is read on past `end` to its newline. So ranges
    planned from the file size alone, each read by its own task, give every line once, in order.
    """
    begin = max(start - 1, 0)
    try:
        with open_random_access(source.path) as handle:
            size = file_size(handle)
            check_listed_size(source, size)
            handle.seek(begin)
            data = handle.read(end - begin)
            if start > 0 and b"\n" not in data:  # inside one long line that began before the range: no line starts here
                return []
            if end < size and not data.endswith(b"\n"):
                data += rest_of_line(handle)
    except OSError as err:
        raise unreadable(source.path, 0, err) from None
    if start > 0:
        data = data[data.find(b"\n") + 1 :] if b"\n" in data else b""
    return [line for line in data.split(b"\n") if not is_blank(line)]


def parse_line(line: bytes) -> dict | LineReject:
    """One JSON Lines line as an object, or the reason it is not one.

    orjson first for speed, then the strict stdlib fallback of `jsontext` for lone surrogate
    escapes (they are replaced with U+FFFD later, not rejected).
    """
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as err:
            return LineReject(reasons.LINE_NOT_UTF8, f"invalid UTF-8 byte at offset {err.start} of the line")
        try:
            value = loads_allowing_surrogates(text.rstrip("\r\n"))
        except json.JSONDecodeError as err:
            return LineReject(reasons.LINE_NOT_JSON, f"the line is not valid JSON at column {err.colno}: {err.msg}")
        except ValueError as err:
            return LineReject(reasons.LINE_NOT_JSON, f"the line is not valid JSON: {err}")
    if not isinstance(value, dict):
        return LineReject(reasons.LINE_NOT_AN_OBJECT, f"the line is {json_type_name(value)}, not an object")
    return value


def missing_columns(seen: set[str]) -> list[str]:
    """Published columns that no object line of a file had."""
    return [column for column in COLUMNS if column not in seen]


def check_columns(source: SourceFile, seen: set[str]) -> None:
    """A column absent from a whole file is an error, not a file of nulls (sources.md)."""
    missing = missing_columns(seen)
    if missing:
        where = "in its schema" if source.file_format == "parquet" else "on any line"
        raise SourceError(
            f"{source.path} has no column {', '.join(missing)} {where}. Each row must have the published "
            f"columns {', '.join(COLUMNS)}: check that the file belongs to dataset {source.dataset}."
        )


def unreadable_parquet(path: str, err: Exception) -> SourceError:
    return SourceError(f"cannot read Parquet file {path}: {err}. Re-download it or move it out of the dataset folder.")


def parquet_file(path: str) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(open_random_access(path) if is_remote(path) else path)
    except (OSError, ValueError) as err:
        raise unreadable_parquet(path, err) from None


def row_group_start(row_group: pq.RowGroupMetaData) -> int:
    """The offset of a row group's first byte: the first page (a dictionary page if any) of its columns."""
    columns = [row_group.column(index) for index in range(row_group.num_columns)]
    return min(column.dictionary_page_offset if column.has_dictionary_page else column.data_page_offset for column in columns)


def iter_parquet_rows(
    source: SourceFile, batch_rows: int, published_columns: bool = True, byte_range: tuple[int, int] | None = None
) -> Iterator[dict[str, Any]]:
    """Rows of a Parquet source, batch by batch: of the whole file, or of the row groups that start in
    `byte_range` (planned from the file's size like a JSON Lines file's ranges: each task reads the footer
    and its own row groups). A SERA file (published_columns) must hold every published column and is read
    for those; a file of another format is read whole (its adapter says what a row needs)."""
    handle = parquet_file(source.path)
    if published_columns:
        check_columns(source, set(handle.schema_arrow.names))
    groups = list(range(handle.metadata.num_row_groups))
    if byte_range is not None:
        check_listed_size(source, size_of(source.path))
        groups = [group for group in groups if byte_range[0] <= row_group_start(handle.metadata.row_group(group)) < byte_range[1]]
    if not groups:
        return
    try:
        for batch in handle.iter_batches(batch_size=batch_rows, row_groups=groups, columns=list(COLUMNS) if published_columns else None):
            yield from batch.to_pylist()
    except (OSError, ValueError) as err:
        raise unreadable_parquet(source.path, err) from None


def read_bytes(source: SourceFile) -> bytes:
    """A whole .traj or .json file (one document)."""
    try:
        with open_random_access(source.path) as handle:
            return handle.read()
    except OSError as err:
        raise SourceError(f"cannot read {source.path}: {err}. Fix its permissions or move it out of the folder.") from None


def json_rows(source: SourceFile) -> list[Any]:
    """The rows of a .json file: its list's items, or the one object it holds. The file is one JSON
    document, so it is read whole (use JSON Lines for large sets); a file that is not valid JSON is one
    row, rejected as `line_not_json` like a bad .traj."""
    data = read_bytes(source)
    try:
        value = loads(data)
    except ValueError:
        return [data]
    return value if isinstance(value, list) else [value]


def json_value_of_yaml(text: str) -> Any:
    """A YAML demonstration as the JSON value it stands for, so the rest of the pipeline sees only
    JSON types: dates become ISO strings; NaN, infinities, sets, binary and nesting too deep raise
    ValueError."""

    def date_as_text(value: Any) -> str:
        if isinstance(value, (datetime.date, datetime.datetime)):
            return value.isoformat()
        raise ValueError(f"a YAML {type(value).__name__} has no JSON form")

    try:
        return loads(json.dumps(yaml.safe_load(text), allow_nan=False, default=date_as_text))
    except (TypeError, RecursionError) as err:
        raise ValueError(str(err) or "nested too deeply") from None


def traj_record(data: bytes, source: SourceFile) -> dict | LineReject:
    """The source row a SWE-agent trajectory file stands for: the file's object (its `history`, `info`,
    `replay_config`, read by the dataset's format adapter) with instance_id from the file name."""
    if source.file_format == "traj_yaml":
        try:
            value = json_value_of_yaml(data.decode("utf-8"))
        except UnicodeDecodeError as err:
            return LineReject(reasons.LINE_NOT_UTF8, f"invalid UTF-8 byte at offset {err.start} of the file")
        except (yaml.YAMLError, ValueError) as err:
            return LineReject(reasons.LINE_NOT_JSON, f"the file is not a YAML document JSON can hold: {err}")
        if not isinstance(value, dict):
            return LineReject(reasons.LINE_NOT_AN_OBJECT, f"the file is {json_type_name(value)}, not a mapping")
    else:
        value = parse_line(data)
        if isinstance(value, LineReject):
            return LineReject(value.reason, value.detail.replace("the line", "the file"))
    return {**value, "instance_id": source.path.rsplit("/", 1)[-1].rsplit(".", 1)[0]}


def check_format(dataset: str, source_format: str) -> None:
    """A traj_dirs entry's `format` must name one of the adapters (formats.FORMATS)."""
    if source_format not in FORMATS:
        raise SourceError(
            f"traj_dirs entry {dataset} has format {source_format!r}, which is not a known source format. "
            f"Valid formats: {', '.join(FORMATS)} (docs/formats.md); fix the `format:` key of the entry."
        )


def source_file_manifest(datasets: list[dict[str, Any]]) -> pa.Table:
    """One row per data file of the selected datasets, with its size: a listing only, no file is read
    here (the conversion's tasks count the rows as they read them: parts.py).

    `datasets` are the rows of stg_sera__datasets in dataset order (source_dataset, dataset_dir,
    source_kind, source_format); the dbt vars that select them are checked before
    (macros/selection_vars.sql), the format names here, before any file is listed.
    """
    for row in datasets:
        check_format(row["source_dataset"], row["source_format"])
    rows = [
        {
            "source_dataset": row["source_dataset"],
            "source_file": source.source_file,
            "file_path": source.path,
            "file_format": source.file_format,
            "file_bytes": source.file_bytes,
        }
        for row in datasets
        for source in list_source_files(row["dataset_dir"], row["source_dataset"], row["source_kind"])
    ]
    return pa.Table.from_pylist(rows, schema=SOURCE_FILES_SCHEMA)
