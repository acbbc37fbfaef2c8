"""The conversion into Parquet parts, for the dbt model int_conversion_parts.

The main process only lists the files and plans chunks from their sizes (chunks.py); worker processes
(workers.py), or Ray tasks with the engine ray (ray_engine.py), read each chunk, convert it row by row
(rows.py) and write it as numbered Parquet parts; only a small summary comes back. At no point is a whole
dataset in Python memory, and no file passes through the main process. A task numbers its rows from its
chunk's start (it cannot know how many rows the file has before its byte range); the main process adds
up the counts coming back in order, and the view int_trajectories_converted adds each chunk's first
row, so source_row is the row's index in its file. DuckDB reads the parts in name order = source order.
Local parts replace their folder as a whole when the conversion succeeds; on object storage (no rename)
each build writes a new run-<id>/ prefix that the manifest points to, and removes the older ones after.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from .atomic import replaced_directory
from .chunks import Chunk, Dataset, chunk_records, part_groups, plan_chunks
from .ray_engine import ray_ordered_map
from .rows import CONVERTED_SCHEMA, output_row, parse_record
from .sources import LineReject, SourceError, SourceFile, check_columns
from .storage import filesystem_of, is_remote, join, uri_of
from .tokens import ChunkCounter, TokenSettings, known_counts, write_cache
from .workers import default_workers, ordered_map

PROGRESS_INTERVAL_SECONDS = 15.0

# parts are written once and read by the two data tests and the two exports: LZ4 is the cheapest to
# read, at a larger size than zstd's (docs/benchmark.md)
PART_COMPRESSION = "lz4"

PART_GLOB = "part-*.parquet"

# on object storage each build's parts are under a prefix of their own (build_parts)
RUN_PREFIX = "run-"

# dictionary encoding pays for the repeated columns only: on `messages` it costs much of the write time
# and saves nothing (docs/benchmark.md); `tools` is one long text repeated by every row of a source
PART_DICTIONARY_COLUMNS = [
    "source_dataset",
    "source_file",
    "teacher",
    "scale",
    "rollout",
    "source_format",
    "tools",
    "exit_status",
    "reject_reason",
]

# a part holds the converted rows with source_row counted from its chunk's start, and the chunk's number
# (the view int_trajectories_converted turns them into the row's index in its file)
PART_SCHEMA = CONVERTED_SCHEMA.append(pa.field("chunk_number", pa.int64()))

PARTS_SCHEMA = pa.schema(
    [
        ("part_number", pa.int64()),
        ("chunk_number", pa.int64()),
        ("part_path", pa.string()),
        ("source_dataset", pa.string()),
        ("source_file", pa.string()),
        ("first_source_row", pa.int64()),
        ("n_rows", pa.int64()),
        ("n_rejected", pa.int64()),
        ("source_bytes", pa.int64()),
        ("part_bytes", pa.int64()),
        ("n_token_failures", pa.int64()),
    ]
)


@dataclass(frozen=True)
class ChunkTask:
    """A chunk for a worker to read and convert, and where its parts go: part-<chunk>-<n>.parquet."""

    chunk: Chunk
    chunk_number: int
    parts_dir: str
    tokens: TokenSettings | None = None


@dataclass(frozen=True)
class PartWritten:
    """One part a task wrote: its path, its first row counted from the chunk's start, its counts."""

    path: str
    first_row: int
    n_rows: int
    n_rejected: int
    part_bytes: int
    n_token_failures: int


@dataclass(frozen=True)
class ChunkWritten:
    """What a task sends back for a chunk: its parts, the keys of its object rows, and the token counts
    it added to the cache (with the rows the chat template could not render)."""

    parts: list[PartWritten]
    source_bytes: int
    keys: frozenset[str]
    n_objects: int
    new_token_counts: dict[bytes, int]
    n_token_cache_hits: int

    @property
    def n_rows(self) -> int:
        return sum(part.n_rows for part in self.parts)


@dataclass
class Progress:
    """Rows done, source MB/s and ETA of a long conversion, reported every PROGRESS_INTERVAL_SECONDS."""

    total_bytes: int
    report: Callable[[str], None]
    rows: int = 0
    rejected: int = 0
    n_bytes: int = 0
    tokens_counted: int = 0
    tokens_cached: int = 0
    tokens_failed: int = 0
    started: float = field(default_factory=time.monotonic)
    last_report: float = field(default_factory=time.monotonic)

    def add(self, chunk: ChunkWritten) -> None:
        self.rows += chunk.n_rows
        self.rejected += sum(part.n_rejected for part in chunk.parts)
        self.n_bytes += chunk.source_bytes
        self.tokens_counted += len(chunk.new_token_counts)
        self.tokens_cached += chunk.n_token_cache_hits
        self.tokens_failed += sum(part.n_token_failures for part in chunk.parts)
        if time.monotonic() - self.last_report >= PROGRESS_INTERVAL_SECONDS:
            self.report(self.summary())
            self.last_report = time.monotonic()

    def summary(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.n_bytes / elapsed
        eta = (self.total_bytes - self.n_bytes) / rate if rate else float("nan")
        return (
            f"converted {self.rows:,} rows ({self.rejected:,} rejected) from {self.n_bytes / 1e6:,.0f} of "
            f"{self.total_bytes / 1e6:,.0f} MB of source files at {rate / 1e6:,.1f} MB/s, {elapsed:,.0f} s elapsed, ETA {eta:,.0f} s"
        )

    def token_summary(self) -> str:
        """How the rows got their n_tokens (reported at the end of a build with a tokenizer)."""
        return (
            f"n_tokens: {self.tokens_counted:,} rows counted with the tokenizer, {self.tokens_cached:,} from the cache, "
            f"{self.tokens_failed:,} not rendered by the chat template (n_tokens null)"
        )


def part_batch(
    records: list[Any], chunk: Chunk, chunk_number: int, first_row: int, tokens: ChunkCounter | None = None
) -> tuple[pa.RecordBatch, set[str], int]:
    """Convert a part's records (rows first_row, first_row + 1, ... of the chunk) into a record batch;
    also return the keys its object rows had, and their count."""
    rows = []
    keys: set[str] = set()
    n_objects = 0
    for offset, record in enumerate(records):
        parsed = parse_record(record, chunk.source)
        if isinstance(parsed, LineReject):
            row = {"reject_reason": parsed.reason, "reject_detail": parsed.detail}
        else:
            keys.update(parsed)
            n_objects += 1
            row = output_row(parsed, chunk.dataset.name, chunk.dataset.rollout, tokens, chunk.dataset.source_format)
        row.update(
            source_dataset=chunk.dataset.name,
            source_file=chunk.source.source_file,
            source_row=first_row + offset,
            dataset_order=chunk.dataset.order,
            teacher=row.get("teacher") or chunk.dataset.teacher,
            scale=chunk.dataset.scale,
            rollout=chunk.dataset.rollout,
            chunk_number=chunk_number,
        )
        rows.append(row)
    return pa.RecordBatch.from_pylist(rows, schema=PART_SCHEMA), keys, n_objects


def write_parquet(batch: pa.RecordBatch, path: str) -> int:
    """Write one part (one row group, rows in order) to a local path or an object; return its size.

    The stored size is checked against the bytes written: an object store that completes an upload
    wrongly (seen once with a test server under load) fails the build here, naming the part, instead of
    at a later reader's decompression error.
    """
    filesystem, inner = filesystem_of(path)
    with filesystem.open_output_stream(inner, compression=None) as sink:
        pq.write_table(
            pa.Table.from_batches([batch], schema=PART_SCHEMA), sink, compression=PART_COMPRESSION, use_dictionary=PART_DICTIONARY_COLUMNS
        )
        written = sink.tell()
    stored = filesystem.get_file_info(inner).size
    if stored != written:
        raise SourceError(f"{path} holds {stored} bytes after {written:,} were written: the storage did not keep the part. Build again.")
    return written


def part_name(chunk_number: int, number: int) -> str:
    """part-<chunk, 8 digits>-<part of the chunk, 6 digits>.parquet: fixed widths, so that name order (the
    order DuckDB reads a glob in) is source order; a number that does not fit would break that order."""
    if chunk_number >= 10**8 or number >= 10**6:
        raise SourceError(
            f"chunk {chunk_number:,} part {number:,}: more than 100 million chunks or a million parts of one chunk. "
            "Split the dataset into several datasets (traj_dirs entries) or its files into smaller ones."
        )
    return f"part-{chunk_number:08d}-{number:06d}.parquet"


def write_chunk(task: ChunkTask) -> ChunkWritten:
    """Read a chunk, convert it and write it as parts part-<chunk>-0000.parquet, -0001, ...

    Runs in a worker process or a Ray task: it must stay a module-level function of the installed
    package. The converted text goes straight from the worker to storage instead of back through a pipe.
    """
    chunk = task.chunk
    tokens = task.tokens.chunk_counter() if task.tokens else None
    parts = []
    keys: set[str] = set()
    n_objects = first_row = 0
    for number, records in enumerate(part_groups(chunk_records(chunk))):
        failures_before = tokens.n_failed if tokens else 0
        batch, part_keys, part_objects = part_batch(records, chunk, task.chunk_number, first_row, tokens)
        path = join(task.parts_dir, part_name(task.chunk_number, number))
        part_bytes = write_parquet(batch, path)
        parts.append(
            PartWritten(
                path=path,
                first_row=first_row,
                n_rows=batch.num_rows,
                n_rejected=batch.num_rows - batch.column("reject_reason").null_count,
                part_bytes=part_bytes,
                n_token_failures=tokens.n_failed - failures_before if tokens else 0,
            )
        )
        keys |= part_keys
        n_objects += part_objects
        first_row += batch.num_rows
    return ChunkWritten(
        parts=parts,
        source_bytes=chunk.n_bytes,
        keys=frozenset(keys),
        n_objects=n_objects,
        new_token_counts=tokens.new if tokens else {},
        n_token_cache_hits=tokens.n_cached if tokens else 0,
    )


def chunk_tasks(files: list[tuple[SourceFile, Dataset]], parts_dir: str, tokens: TokenSettings | None) -> Iterator[ChunkTask]:
    """One task per planned chunk, numbered in source order."""
    number = 0
    for source, dataset in files:
        for chunk in plan_chunks(source, dataset):
            yield ChunkTask(chunk, number, parts_dir, tokens)
            number += 1


def written_chunks(tasks: Iterator[ChunkTask], workers: int, engine: str) -> Iterator[tuple[ChunkTask, ChunkWritten]]:
    """write_chunk over the tasks, results in task order: on `workers` forked processes (engine local) or
    as Ray tasks (engine ray: the cluster at RAY_ADDRESS, else a Ray of `workers` CPUs on this machine)."""
    if engine == "ray":
        return ray_ordered_map(write_chunk, tasks, workers)
    return ordered_map(write_chunk, tasks, workers)


def write_parts(
    files: list[tuple[SourceFile, Dataset]],
    parts_dir: str,
    workers: int,
    progress: Progress | None = None,
    tokens: TokenSettings | None = None,
    engine: str = "local",
) -> tuple[list[dict[str, Any]], dict[bytes, int]]:
    """Convert the files in order into numbered parts in parts_dir; return one manifest row per part,
    with the row of the file it starts at, and the token counts the workers added to the cache.

    Checks each SERA JSON Lines file's columns at its end (a column missing from a whole file fails the
    build). A file without rows still gets an empty part, so the parts list every file. The workers (and
    a Ray started for the conversion) stop as soon as the loop does, also when a check fails.
    """
    manifest = []
    new_token_counts: dict[bytes, int] = {}
    keys: set[str] = set()
    n_objects = file_rows = 0
    with closing(written_chunks(chunk_tasks(files, parts_dir, tokens), workers, engine)) as chunks:
        for task, written in chunks:
            chunk = task.chunk
            if progress:
                progress.add(written)
            keys |= written.keys
            n_objects += written.n_objects
            new_token_counts |= written.new_token_counts
            for part in written.parts:
                manifest.append(
                    {
                        "part_number": len(manifest),
                        "chunk_number": task.chunk_number,
                        "part_path": part.path,
                        "source_dataset": chunk.dataset.name,
                        "source_file": chunk.source.source_file,
                        "first_source_row": file_rows + part.first_row,
                        "n_rows": part.n_rows,
                        "n_rejected": part.n_rejected,
                        "source_bytes": written.source_bytes if part.first_row == 0 else 0,
                        "part_bytes": part.part_bytes,
                        "n_token_failures": part.n_token_failures,
                    }
                )
            file_rows += written.n_rows
            if chunk.last_of_file:
                if chunk.source.file_format == "jsonl" and chunk.dataset.source_format == "sera" and n_objects:
                    check_columns(chunk.source, keys)
                keys, n_objects, file_rows = set(), 0, 0
    if progress:
        progress.report("done: " + progress.summary())
        if tokens:
            progress.report(progress.token_summary())
    return manifest, new_token_counts


def build_parts(
    file_rows: list[dict[str, Any]],
    parts_dir: str,
    workers: int | None = None,
    report: Callable[[str], None] | None = None,
    tokens: TokenSettings | None = None,
    engine: str = "local",
) -> pa.Table:
    """Convert the listed files (rows of stg_sera__source_files joined with their dataset, in order)
    into Parquet parts that replace those of parts_dir (a local folder or an object storage prefix);
    return the parts manifest (PARTS_SCHEMA). `report` receives a progress line now and then. With
    `tokens`, every converted row gets n_tokens, and the counts made are added to the token cache when
    the conversion succeeds. `engine` (local or ray, checked by the macro check_vars) runs the chunks on
    forked worker processes or as Ray tasks: same parts."""
    files = [
        (
            SourceFile(row["source_dataset"], row["source_file"], row["file_path"], row["file_format"], row["file_bytes"]),
            Dataset(row["source_dataset"], row["dataset_order"], row["teacher"], row["scale"], row["rollout"], row["source_format"]),
        )
        for row in file_rows
    ]
    progress = Progress(sum(row["file_bytes"] for row in file_rows), report) if report else None
    with parts_folder(parts_dir) as (written_dir, final_dir):
        manifest, new_token_counts = write_parts(files, written_dir, workers or default_workers(), progress, tokens, engine)
        # inside the block: a cache that cannot be written fails the build before the old parts are replaced
        if tokens and new_token_counts:
            write_cache(tokens.cache_file, known_counts(tokens.cache_file, tokens.cache_version) | new_token_counts)
    for row in manifest:
        row["part_path"] = join(final_dir, row["part_path"].rsplit("/", 1)[-1])
    return pa.Table.from_pylist(manifest, schema=PARTS_SCHEMA)


@contextmanager
def parts_folder(parts_dir: str) -> Iterator[tuple[str, str]]:
    """(where the tasks write the parts, where they are once the block succeeds).

    A local folder is filled under a temporary name and replaces parts_dir as a whole (atomic rename).
    Object storage has no rename: the parts go under a new prefix parts_dir/run-<id>/, which the
    manifest (the int_conversion_parts table) points to once the model succeeds; the earlier runs'
    prefixes are deleted then, this run's when the block fails. A reader of the old manifest keeps
    reading the old parts until the new table replaces it.
    """
    if not is_remote(parts_dir):
        target = Path(parts_dir).resolve()
        check_parts_dir(target)
        with replaced_directory(target) as temporary:
            yield str(temporary), str(target)
        return
    filesystem, prefix = filesystem_of(parts_dir.rstrip("/"))
    earlier = check_remote_parts_dir(filesystem, prefix, parts_dir)
    run = join(parts_dir.rstrip("/"), f"{RUN_PREFIX}{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}")
    try:
        yield run, run
    except BaseException:
        delete_prefix(filesystem, filesystem_of(run)[1])
        raise
    for folder in earlier:
        delete_prefix(filesystem, folder)


def delete_prefix(filesystem: pafs.FileSystem, prefix: str) -> None:
    """Delete every object under `prefix`, as far as the store lets us: none is fine (a run that failed
    before its first part), and a refused delete must not hide the build's own error or fail a build that
    succeeded (an earlier run left behind is deleted by the next build)."""
    with contextlib.suppress(OSError):
        filesystem.delete_dir(prefix)


def check_parts_dir(target: Path) -> None:
    """converted_dir is replaced as a whole: refuse a folder that holds anything but parts (a typo in
    the var must not delete a user's files)."""
    if target.exists() and not target.is_dir():
        raise SourceError(f"converted_dir {target} is a file, not a folder: set the converted_dir var to a new or empty folder.")
    foreign = sorted(path.name for path in target.iterdir() if not path.match(PART_GLOB)) if target.is_dir() else []
    refuse_foreign(str(target), foreign)


def check_remote_parts_dir(filesystem: pafs.FileSystem, prefix: str, parts_dir: str) -> list[str]:
    """check_parts_dir for an object storage prefix, which may hold only run-<id>/part-*.parquet objects;
    return the earlier runs' prefixes (to delete once the new run is complete)."""
    infos = filesystem.get_file_info(pafs.FileSelector(prefix, recursive=True, allow_not_found=True))
    runs, foreign = set(), []
    for info in infos:
        relative = info.path[len(prefix) :].lstrip("/").split("/")
        if relative[0].startswith(RUN_PREFIX) and (len(relative) == 1 or (len(relative) == 2 and Path(relative[1]).match(PART_GLOB))):
            runs.add(f"{prefix}/{relative[0]}")
        else:
            foreign.append("/".join(relative))
    refuse_foreign(uri_of(parts_dir, prefix), sorted(foreign))
    return sorted(runs)


def refuse_foreign(where: str, foreign: list[str]) -> None:
    if foreign:
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        raise SourceError(
            f"converted_dir {where} holds other things than conversion parts ({foreign[0]}{more}), and each build "
            "replaces its parts as a whole: set the converted_dir var to a new or empty folder."
        )


def beside_database(connection: duckdb.DuckDBPyConnection, suffix: str) -> str:
    """A folder beside the DuckDB file, named after it (sera.duckdb + "_converted": sera_converted/), so
    the database and the files its views read (the parts, the token cache) travel together; in the
    working folder for an in-memory database."""
    query = "select path from duckdb_databases() where database_name = current_database()"
    database_path = connection.execute(query).fetchall()[0][0]
    if not database_path or database_path == ":memory:":
        return "sera" + suffix
    database = Path(database_path)
    return str(database.with_name(database.stem + suffix))


def read_parts(manifest: pa.Table) -> pa.Table:
    """All converted rows of a build_parts manifest in source order, with source_row the row's index in
    its file (as the view int_trajectories_converted gives them), for tests and benchmarks."""
    tables = []
    for part in manifest.to_pylist():
        filesystem, inner = filesystem_of(part["part_path"])
        table = pq.read_table(inner, filesystem=filesystem, schema=PART_SCHEMA)
        chunk_rows = table.column("source_row")
        offset = part["first_source_row"] - (chunk_rows[0].as_py() if len(chunk_rows) else 0)
        table = table.set_column(table.schema.get_field_index("source_row"), "source_row", pc.add(chunk_rows, offset))
        tables.append(table.drop_columns(["chunk_number"]))
    return pa.concat_tables(tables) if tables else CONVERTED_SCHEMA.empty_table()
