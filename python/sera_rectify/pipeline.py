"""Streaming conversion of source files into Parquet parts, for the dbt conversion model.

The main process plans bounded chunks: byte ranges of a plain JSON Lines file (the worker reads
them), or the records of a compressed file, a Parquet file or a .traj file. Worker processes parse
and convert each chunk and write it as one numbered Parquet part; only a small summary comes back.
At no point is a whole dataset in Python memory: at most `2 x workers` chunks are in flight. The
converted text never passes through the main process or DuckDB's own storage: DuckDB reads the
parts (in part-number order = source order) through the view int_trajectories_converted.
"""

from __future__ import annotations

import ctypes
import gc
import json
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from .convert import Reject, convert_trajectory, replace_lone_surrogates
from .export import replaced_directory
from .recall import line_level_recall
from .sft import sft_messages_of
from .sources import (
    LineReject,
    SourceError,
    SourceFile,
    check_columns,
    count_rows,
    is_plain_jsonl,
    iter_line_ends,
    iter_lines,
    iter_parquet_rows,
    list_source_files,
    parse_line,
    read_bytes,
    read_line_range,
    traj_record,
)

T = TypeVar("T")
R = TypeVar("R")

CHUNK_MAX_ROWS = 256
PROGRESS_INTERVAL_SECONDS = 15.0
CHUNK_MAX_BYTES = 32 * 1024 * 1024
# parts are written once and read by the two data tests and the two exports: LZ4 is the cheapest to
# read (each scan of 1.4 GB of text took ~0.5 s less than with zstd level 1) at about twice zstd's size
# (~0.4x the source's on the benchmark's input)
PART_COMPRESSION = "lz4"
PART_GLOB = "part-*.parquet"
# glibc's mallopt parameter number and the value for the worker processes (prepare_worker)
M_TRIM_THRESHOLD = -1
MALLOC_TRIM_THRESHOLD_BYTES = 1024 * 1024 * 1024
# dictionary encoding pays for the short repeated columns only: on `messages` it costs two thirds
# of the write time and saves nothing
PART_DICTIONARY_COLUMNS = ["source_dataset", "source_file", "teacher", "scale", "rollout", "reject_reason"]

CONVERTED_SCHEMA = pa.schema(
    [
        ("source_dataset", pa.string()),
        ("source_file", pa.string()),
        ("source_row", pa.int64()),
        ("dataset_order", pa.int32()),
        ("teacher", pa.string()),
        ("scale", pa.string()),
        ("rollout", pa.string()),
        ("instance_id", pa.string()),
        ("func_name", pa.string()),
        ("func_path", pa.string()),
        ("messages", pa.string()),
        ("sft_messages", pa.string()),
        ("line_level_recall", pa.float64()),
        ("n_messages", pa.int32()),
        ("n_tool_calls", pa.int32()),
        ("n_trimmed_submits", pa.int32()),
        ("n_folded_texts", pa.int32()),
        ("n_filled_reasoning", pa.int32()),
        ("n_replaced_chars", pa.int32()),
        ("n_chars", pa.int64()),
        ("reject_reason", pa.string()),
        ("reject_detail", pa.string()),
    ]
)

PARTS_SCHEMA = pa.schema(
    [
        ("part_number", pa.int64()),
        ("part_path", pa.string()),
        ("source_dataset", pa.string()),
        ("source_file", pa.string()),
        ("first_source_row", pa.int64()),
        ("n_rows", pa.int64()),
        ("n_rejected", pa.int64()),
        ("source_bytes", pa.int64()),
        ("part_bytes", pa.int64()),
    ]
)

SOURCE_FILES_SCHEMA = pa.schema(
    [
        ("source_dataset", pa.string()),
        ("source_file", pa.string()),
        ("file_path", pa.string()),
        ("file_format", pa.string()),
        ("file_bytes", pa.int64()),
        ("rows_in_file", pa.int64()),
    ]
)


@dataclass(frozen=True)
class Dataset:
    """What every row of a dataset carries: its export order and teacher, scale, rollout (the seed)."""

    name: str
    order: int
    teacher: str
    scale: str
    rollout: str


@dataclass
class Chunk:
    """Consecutive rows of one file: the byte range of a plain JSON Lines file (its worker reads the
    lines), or the records themselves: lines of a compressed file, .traj contents, Parquet row dicts."""

    source: SourceFile
    dataset: Dataset
    first_row: int
    records: list[bytes | dict] = field(default_factory=list)
    byte_range: tuple[int, int] | None = None
    n_rows: int = 0
    n_bytes: int = 0
    last_of_file: bool = False


@dataclass(frozen=True)
class PartTask:
    """A chunk for a worker to convert, and the Parquet part it writes the result to."""

    chunk: Chunk
    part_number: int
    part_path: str


@dataclass(frozen=True)
class PartWritten:
    """What a worker sends back for a part: its row counts and the keys of the chunk's objects."""

    n_rows: int
    n_rejected: int
    source_bytes: int
    part_bytes: int
    keys: frozenset[str]
    n_objects: int


@dataclass
class Progress:
    """Rows done, source MB/s and ETA of a long conversion, reported every PROGRESS_INTERVAL_SECONDS."""

    total_rows: int
    report: Callable[[str], None]
    rows: int = 0
    rejected: int = 0
    n_bytes: int = 0
    started: float = field(default_factory=time.monotonic)
    last_report: float = field(default_factory=time.monotonic)

    def add(self, part: PartWritten) -> None:
        self.rows += part.n_rows
        self.rejected += part.n_rejected
        self.n_bytes += part.source_bytes
        if time.monotonic() - self.last_report >= PROGRESS_INTERVAL_SECONDS:
            self.report(self.summary())
            self.last_report = time.monotonic()

    def summary(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.rows / elapsed
        eta = (self.total_rows - self.rows) / rate if rate else float("nan")
        return (
            f"converted {self.rows:,} of {self.total_rows:,} rows ({self.rejected:,} rejected), "
            f"{self.n_bytes / 1e6:,.0f} MB of source text at {self.n_bytes / 1e6 / elapsed:,.1f} MB/s, "
            f"{rate:,.1f} rows/s, {elapsed:,.0f} s elapsed, ETA {eta:,.0f} s"
        )


def default_workers() -> int:
    """SERA_THREADS, else the number of cores (spec/interface.md)."""
    return int(os.environ.get("SERA_THREADS") or os.cpu_count() or 1)


def as_text(value: Any) -> str | None:
    """Light cast of a metadata value to a string (all source columns are strings; null stays null)."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def clean_text(value: Any) -> tuple[str | None, int]:
    """as_text with lone surrogates replaced (they cannot be written as UTF-8) and counted."""
    text = as_text(value)
    if text is None:
        return None, 0
    return replace_lone_surrogates(text)


def convert_record(record: dict, dataset: str, rollout: str) -> dict[str, Any]:
    """One source row (an object) to one output row: converted (also in the SFT-ready format, built
    while the row's texts are in memory, so no later pass reads them back), or rejected with reason
    and detail."""
    instance_id, n_id = clean_text(record.get("instance_id"))
    func_name, n_name = clean_text(record.get("func_name"))
    func_path, n_path = clean_text(record.get("func_path"))
    rollout_patch = as_text(record.get("rollout_patch"))
    row: dict[str, Any] = {"instance_id": instance_id, "func_name": func_name, "func_path": func_path}
    result = convert_trajectory(record.get("messages"), dataset=dataset, instance_id=instance_id, rollout_patch=rollout_patch)
    if isinstance(result, Reject):
        row["reject_reason"], row["reject_detail"] = result.reason, result.detail
        return row
    row.update(
        messages=result.messages,
        sft_messages=sft_messages_of(result),
        line_level_recall=line_level_recall(rollout_patch, as_text(record.get("target_patch"))) if rollout == "T2" else None,
        n_messages=result.n_messages,
        n_tool_calls=result.n_tool_calls,
        n_trimmed_submits=result.n_trimmed_submits,
        n_folded_texts=result.n_folded_texts,
        n_filled_reasoning=result.n_filled_reasoning,
        n_replaced_chars=result.n_replaced_chars + n_id + n_name + n_path,
        n_chars=len(result.messages),
    )
    return row


def parse_record(record: bytes | dict, source: SourceFile) -> dict | LineReject:
    """A raw record as a source row object: a JSON Lines line is parsed, a .traj file mapped,
    a Parquet row used as is."""
    if isinstance(record, dict):
        return record
    if source.file_format in ("traj", "traj_yaml"):
        return traj_record(record, source)
    return parse_line(record)


def convert_chunk(chunk: Chunk) -> tuple[pa.RecordBatch, set[str], int]:
    """Convert a chunk into a record batch; also return the keys its object lines had, and their count.

    Runs in a worker process: it must stay a module-level function of the installed package.
    """
    rows = []
    keys: set[str] = set()
    n_objects = 0
    for offset, record in enumerate(chunk_records(chunk)):
        parsed = parse_record(record, chunk.source)
        if isinstance(parsed, LineReject):
            row = {"reject_reason": parsed.reason, "reject_detail": parsed.detail}
        else:
            keys.update(parsed)
            n_objects += 1
            row = convert_record(parsed, chunk.dataset.name, chunk.dataset.rollout)
        row.update(
            source_dataset=chunk.dataset.name,
            source_file=chunk.source.source_file,
            source_row=chunk.first_row + offset,
            dataset_order=chunk.dataset.order,
            teacher=chunk.dataset.teacher,
            scale=chunk.dataset.scale,
            rollout=chunk.dataset.rollout,
        )
        rows.append(row)
    return pa.RecordBatch.from_pylist(rows, schema=CONVERTED_SCHEMA), keys, n_objects


def chunk_records(chunk: Chunk) -> list[bytes | dict]:
    """A chunk's records; a byte range is read here, in the worker, and must hold the rows planned."""
    if chunk.byte_range is None:
        return chunk.records
    records = read_line_range(chunk.source.path, *chunk.byte_range, chunk.first_row)
    if len(records) != chunk.n_rows:
        raise SourceError(
            f"{chunk.source.path} changed while it was read: bytes {chunk.byte_range[0]:,}-{chunk.byte_range[1]:,} held "
            f"{chunk.n_rows} rows and now hold {len(records)}. Build again once the file is complete."
        )
    return records


def read_chunks(source: SourceFile, dataset: Dataset) -> Iterator[Chunk]:
    """Split one file into chunks of at most CHUNK_MAX_ROWS rows or about CHUNK_MAX_BYTES bytes; the
    last one (empty only for a file without rows) is marked last_of_file."""
    if is_plain_jsonl(source):
        yield from line_range_chunks(source, dataset)
        return
    records: Iterable[bytes | dict]
    if source.file_format == "jsonl":
        records = iter_lines(source.path)
    elif source.file_format == "parquet":
        records = iter_parquet_rows(source, CHUNK_MAX_ROWS)
    else:
        records = [read_bytes(source)]
    chunk = Chunk(source, dataset, 0)
    for record in records:
        if chunk.n_rows >= CHUNK_MAX_ROWS or chunk.n_bytes >= CHUNK_MAX_BYTES:
            yield chunk
            chunk = Chunk(source, dataset, chunk.first_row + chunk.n_rows)
        chunk.records.append(record)
        chunk.n_rows += 1
        chunk.n_bytes += len(record) if isinstance(record, bytes) else 0
    chunk.last_of_file = True
    yield chunk


def line_range_chunks(source: SourceFile, dataset: Dataset) -> Iterator[Chunk]:
    """read_chunks for a plain JSON Lines file: byte ranges ending after a non-blank line."""
    start = 0
    chunk = Chunk(source, dataset, 0, byte_range=(0, 0))
    for end in iter_line_ends(source.path):
        if chunk.n_rows >= CHUNK_MAX_ROWS or chunk.n_bytes >= CHUNK_MAX_BYTES:
            yield chunk
            start = chunk.byte_range[1]
            chunk = Chunk(source, dataset, chunk.first_row + chunk.n_rows, byte_range=(start, start))
        chunk.byte_range = (start, end)
        chunk.n_rows += 1
        chunk.n_bytes = end - start
    chunk.last_of_file = True
    yield chunk


def worker_context() -> multiprocessing.context.BaseContext:
    """fork where the platform has it: a spawned worker re-imports the parent's main script, which
    under dbt is its whole CLI (~3 s per worker); the forked worker runs only the mapped function."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def prepare_worker() -> None:
    """Run once in each worker process before its first item.

    gc.freeze(): the objects a forked worker inherits (all of dbt's) are left out of its garbage
    collections, which would otherwise walk them again and again while the conversion allocates.
    mallopt (glibc only): every row allocates and frees strings of 100 KB to a few MB; by default
    glibc hands freed memory back to the kernel and faults fresh pages in for the next row, and
    the workers spent ~20% of their CPU time in the kernel (1.7 million page faults at 2 GB).
    A high trim threshold keeps the freed pages for reuse: ~4x fewer faults, ~5% less CPU. The
    heap stays at the worker's peak, which the chunk size bounds.
    """
    gc.freeze()
    try:
        ctypes.CDLL(None).mallopt(M_TRIM_THRESHOLD, MALLOC_TRIM_THRESHOLD_BYTES)
    except (OSError, AttributeError):
        pass  # not glibc: its allocator's defaults


def ordered_map(function: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[tuple[T, R]]:
    """(item, function(item)) for each item, in input order, computed by `workers` processes with at
    most 2 x workers items in flight (Executor.map would submit the whole input at once). `function`
    must be a module-level function of the installed package so the workers can find it."""
    if workers <= 1:
        for item in items:
            yield item, function(item)
        return
    window: deque[tuple[T, Future]] = deque()
    with ProcessPoolExecutor(max_workers=workers, mp_context=worker_context(), initializer=prepare_worker) as pool:
        for item in items:
            window.append((item, pool.submit(function, item)))
            if len(window) >= 2 * workers:
                done, future = window.popleft()
                yield done, future.result()
        while window:
            done, future = window.popleft()
            yield done, future.result()


def write_part(task: PartTask) -> PartWritten:
    """Convert a chunk and write it as one Parquet part (one row group, rows in source order).

    Runs in a worker process: it must stay a module-level function of the installed package. The
    converted text goes straight from the worker to disk instead of back through a pipe.
    """
    batch, keys, n_objects = convert_chunk(task.chunk)
    pq.write_table(
        pa.Table.from_batches([batch], schema=CONVERTED_SCHEMA),
        task.part_path,
        compression=PART_COMPRESSION,
        use_dictionary=PART_DICTIONARY_COLUMNS,
    )
    return PartWritten(
        n_rows=batch.num_rows,
        n_rejected=batch.num_rows - batch.column("reject_reason").null_count,
        source_bytes=task.chunk.n_bytes,
        part_bytes=os.path.getsize(task.part_path),
        keys=frozenset(keys),
        n_objects=n_objects,
    )


def part_tasks(files: list[tuple[SourceFile, Dataset]], parts_dir: str) -> Iterator[PartTask]:
    """One task per chunk, numbered in source order: part-000000.parquet, part-000001.parquet, ..."""
    number = 0
    for source, dataset in files:
        for chunk in read_chunks(source, dataset):
            yield PartTask(chunk, number, os.path.join(parts_dir, f"part-{number:06d}.parquet"))
            number += 1


def write_parts(
    files: list[tuple[SourceFile, Dataset]], parts_dir: str, workers: int, progress: Progress | None = None
) -> list[dict[str, Any]]:
    """Convert the files in order into numbered parts in parts_dir; return one manifest row per part.

    Checks each JSON Lines file's columns at its end (a column missing from a whole file fails the
    build). A file without rows still gets an empty part, so the parts list every file.
    """
    manifest = []
    keys: set[str] = set()
    n_objects = 0
    for task, written in ordered_map(write_part, part_tasks(files, parts_dir), workers):
        chunk = task.chunk
        if progress:
            progress.add(written)
        keys |= written.keys
        n_objects += written.n_objects
        if chunk.last_of_file:
            if chunk.source.file_format == "jsonl" and n_objects:
                check_columns(chunk.source, keys)
            keys, n_objects = set(), 0
        manifest.append(
            {
                "part_number": task.part_number,
                "part_path": task.part_path,
                "source_dataset": chunk.dataset.name,
                "source_file": chunk.source.source_file,
                "first_source_row": chunk.first_row,
                "n_rows": written.n_rows,
                "n_rejected": written.n_rejected,
                "source_bytes": written.source_bytes,
                "part_bytes": written.part_bytes,
            }
        )
    if progress:
        progress.report("done: " + progress.summary())
    return manifest


def convert_to_parts(
    file_rows: list[dict[str, Any]], parts_dir: str, workers: int | None = None, report: Callable[[str], None] | None = None
) -> pa.Table:
    """Convert the listed files (rows of stg_sera__source_files joined with their dataset, in order)
    into Parquet parts that replace parts_dir as a whole; return the parts manifest (PARTS_SCHEMA).
    `report` receives a progress line now and then."""
    files = [
        (
            SourceFile(row["source_dataset"], row["source_file"], row["file_path"], row["file_format"]),
            Dataset(row["source_dataset"], row["dataset_order"], row["teacher"], row["scale"], row["rollout"]),
        )
        for row in file_rows
    ]
    progress = Progress(sum(row.get("rows_in_file") or 0 for row in file_rows), report) if report else None
    target = Path(parts_dir).resolve()
    check_parts_dir(target)
    with replaced_directory(target) as temporary:
        manifest = write_parts(files, str(temporary), workers or default_workers(), progress)
    for row in manifest:
        row["part_path"] = str(target / Path(row["part_path"]).name)
    return pa.Table.from_pylist(manifest, schema=PARTS_SCHEMA)


def check_parts_dir(target: Path) -> None:
    """converted_dir is replaced as a whole: refuse a folder that holds anything but parts (a typo in
    the var must not delete a user's files)."""
    if target.exists() and not target.is_dir():
        raise SourceError(f"converted_dir {target} is a file, not a folder: set the converted_dir var to a new or empty folder.")
    foreign = sorted(path.name for path in target.iterdir() if not path.match(PART_GLOB)) if target.is_dir() else []
    if foreign:
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        raise SourceError(
            f"converted_dir {target} holds other things than conversion parts ({foreign[0]}{more}), and each build "
            "replaces that folder as a whole: set the converted_dir var to a new or empty folder."
        )


def default_parts_dir(database_path: str | None) -> str:
    """Beside the DuckDB file, named after it (sera.duckdb: sera_converted/), so the views in the
    file and the parts they read travel together; in the working folder for an in-memory database."""
    if not database_path or database_path == ":memory:":
        return "sera_converted"
    database = Path(database_path)
    return str(database.with_name(database.stem + "_converted"))


def read_parts(parts_dir: str) -> pa.Table:
    """All converted rows of parts_dir in source order (part-number order, as DuckDB's glob reads
    them), for tests."""
    paths = sorted(Path(parts_dir).glob(PART_GLOB))
    return pa.concat_tables([pq.read_table(path, schema=CONVERTED_SCHEMA) for path in paths]) if paths else CONVERTED_SCHEMA.empty_table()


def source_file_manifest(datasets: list[dict[str, Any]], requested: list[str], published: list[str]) -> pa.Table:
    """One row per data file of the selected datasets, with its size and an independent row count
    (files are counted in parallel worker processes: ordered_map).

    `datasets` are the rows of stg_sera__datasets in dataset order (source_dataset, dataset_dir,
    source_kind); `requested` is the `datasets` var and `published` the names the sera_datasets seed
    lists: a name the seed does not know is an error, not an empty dataset.
    """
    unknown = [name for name in requested if name not in published]
    if unknown:
        raise SourceError(
            f"the datasets var names {', '.join(unknown)}, which seeds/sera_datasets.csv does not list. Use one of: {', '.join(published)}."
        )
    listed = [
        (row["source_dataset"], source)
        for row in datasets
        for source in list_source_files(row["dataset_dir"], row["source_dataset"], row["source_kind"])
    ]
    counted = ordered_map(count_rows, [source for _, source in listed], default_workers())
    rows = [
        {
            "source_dataset": dataset,
            "source_file": source.source_file,
            "file_path": source.path,
            "file_format": source.file_format,
            "file_bytes": os.path.getsize(source.path),
            "rows_in_file": rows_in_file,
        }
        for (dataset, source), (_, rows_in_file) in zip(listed, counted, strict=True)
    ]
    return pa.Table.from_pylist(rows, schema=SOURCE_FILES_SCHEMA)
