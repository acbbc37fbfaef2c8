"""The conversion into Parquet parts, for the dbt model int_conversion_parts.

The main process plans chunks (chunks.py); worker processes (workers.py), or Ray tasks with the engine
ray (ray_engine.py), convert each chunk row by row (rows.py) and write it as one numbered Parquet part;
only a small summary comes back. At no point is a whole dataset in Python memory. The converted text
never passes through the main process or DuckDB's own storage: DuckDB reads the parts (in part-number
order = source order) through the view int_trajectories_converted. The folder of parts is replaced as
a whole when the conversion succeeds.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from .atomic import replaced_directory
from .chunks import Chunk, Dataset, chunk_records, read_chunks
from .ray_engine import ray_ordered_map
from .rows import CONVERTED_SCHEMA, output_row, parse_record
from .sources import LineReject, SourceError, SourceFile, check_columns
from .tokens import ChunkCounter, TokenSettings, known_counts, write_cache
from .workers import default_workers, ordered_map

PROGRESS_INTERVAL_SECONDS = 15.0

# parts are written once and read by the two data tests and the two exports: LZ4 is the cheapest to
# read, at a larger size than zstd's (docs/benchmark.md)
PART_COMPRESSION = "lz4"

PART_GLOB = "part-*.parquet"

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
        ("n_token_failures", pa.int64()),
    ]
)


@dataclass(frozen=True)
class PartTask:
    """A chunk for a worker to convert, and the Parquet part it writes the result to."""

    chunk: Chunk
    part_number: int
    part_path: str
    tokens: TokenSettings | None = None


@dataclass(frozen=True)
class PartWritten:
    """What a worker sends back for a part: its row counts, the keys of the chunk's objects, and the
    token counts it added to the cache (with the rows the chat template could not render)."""

    n_rows: int
    n_rejected: int
    source_bytes: int
    part_bytes: int
    keys: frozenset[str]
    n_objects: int
    new_token_counts: dict[bytes, int]
    n_token_cache_hits: int
    n_token_failures: int


@dataclass
class Progress:
    """Rows done, source MB/s and ETA of a long conversion, reported every PROGRESS_INTERVAL_SECONDS."""

    total_rows: int
    report: Callable[[str], None]
    rows: int = 0
    rejected: int = 0
    n_bytes: int = 0
    tokens_counted: int = 0
    tokens_cached: int = 0
    tokens_failed: int = 0
    started: float = field(default_factory=time.monotonic)
    last_report: float = field(default_factory=time.monotonic)

    def add(self, part: PartWritten) -> None:
        self.rows += part.n_rows
        self.rejected += part.n_rejected
        self.n_bytes += part.source_bytes
        self.tokens_counted += len(part.new_token_counts)
        self.tokens_cached += part.n_token_cache_hits
        self.tokens_failed += part.n_token_failures
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

    def token_summary(self) -> str:
        """How the rows got their n_tokens (reported at the end of a build with a tokenizer)."""
        return (
            f"n_tokens: {self.tokens_counted:,} rows counted with the tokenizer, {self.tokens_cached:,} from the cache, "
            f"{self.tokens_failed:,} not rendered by the chat template (n_tokens null)"
        )


def chunk_batch(chunk: Chunk, tokens: ChunkCounter | None = None) -> tuple[pa.RecordBatch, set[str], int]:
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
            row = output_row(parsed, chunk.dataset.name, chunk.dataset.rollout, tokens, chunk.dataset.source_format)
        row.update(
            source_dataset=chunk.dataset.name,
            source_file=chunk.source.source_file,
            source_row=chunk.first_row + offset,
            dataset_order=chunk.dataset.order,
            teacher=row.get("teacher") or chunk.dataset.teacher,
            scale=chunk.dataset.scale,
            rollout=chunk.dataset.rollout,
        )
        rows.append(row)
    return pa.RecordBatch.from_pylist(rows, schema=CONVERTED_SCHEMA), keys, n_objects


def write_part(task: PartTask) -> PartWritten:
    """Convert a chunk and write it as one Parquet part (one row group, rows in source order).

    Runs in a worker process: it must stay a module-level function of the installed package. The
    converted text goes straight from the worker to disk instead of back through a pipe.
    """
    tokens = task.tokens.chunk_counter() if task.tokens else None
    batch, keys, n_objects = chunk_batch(task.chunk, tokens)
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
        new_token_counts=tokens.new if tokens else {},
        n_token_cache_hits=tokens.n_cached if tokens else 0,
        n_token_failures=tokens.n_failed if tokens else 0,
    )


def part_tasks(files: list[tuple[SourceFile, Dataset]], parts_dir: str, tokens: TokenSettings | None) -> Iterator[PartTask]:
    """One task per chunk, numbered in source order: part-000000.parquet, part-000001.parquet, ..."""
    number = 0
    for source, dataset in files:
        for chunk in read_chunks(source, dataset):
            yield PartTask(chunk, number, os.path.join(parts_dir, f"part-{number:06d}.parquet"), tokens)
            number += 1


def written_parts(tasks: Iterator[PartTask], workers: int, engine: str) -> Iterator[tuple[PartTask, PartWritten]]:
    """write_part over the tasks, results in task order: on `workers` forked processes (engine local) or
    as Ray tasks (engine ray: the cluster at RAY_ADDRESS, else a Ray of `workers` CPUs on this machine)."""
    if engine == "ray":
        return ray_ordered_map(write_part, tasks, workers)
    return ordered_map(write_part, tasks, workers)


def write_parts(
    files: list[tuple[SourceFile, Dataset]],
    parts_dir: str,
    workers: int,
    progress: Progress | None = None,
    tokens: TokenSettings | None = None,
    engine: str = "local",
) -> tuple[list[dict[str, Any]], dict[bytes, int]]:
    """Convert the files in order into numbered parts in parts_dir; return one manifest row per part,
    and the token counts the workers added to the cache.

    Checks each SERA JSON Lines file's columns at its end (a column missing from a whole file fails the
    build). A file without rows still gets an empty part, so the parts list every file. The workers (and
    a Ray started for the conversion) stop as soon as the loop does, also when a check fails.
    """
    manifest = []
    new_token_counts: dict[bytes, int] = {}
    keys: set[str] = set()
    n_objects = 0
    with closing(written_parts(part_tasks(files, parts_dir, tokens), workers, engine)) as parts:
        for task, written in parts:
            chunk = task.chunk
            if progress:
                progress.add(written)
            keys |= written.keys
            n_objects += written.n_objects
            new_token_counts |= written.new_token_counts
            if chunk.last_of_file:
                if chunk.source.file_format == "jsonl" and chunk.dataset.source_format == "sera" and n_objects:
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
                    "n_token_failures": written.n_token_failures,
                }
            )
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
    into Parquet parts that replace parts_dir as a whole; return the parts manifest (PARTS_SCHEMA).
    `report` receives a progress line now and then. With `tokens`, every converted row gets n_tokens,
    and the counts made are added to the token cache when the conversion succeeds. `engine` (local or
    ray, checked by the macro check_vars) runs the chunks on forked worker processes or as Ray tasks: same parts."""
    files = [
        (
            SourceFile(row["source_dataset"], row["source_file"], row["file_path"], row["file_format"]),
            Dataset(row["source_dataset"], row["dataset_order"], row["teacher"], row["scale"], row["rollout"], row["source_format"]),
        )
        for row in file_rows
    ]
    progress = Progress(sum(row.get("rows_in_file") or 0 for row in file_rows), report) if report else None
    target = Path(parts_dir).resolve()
    check_parts_dir(target)
    with replaced_directory(target) as temporary:
        manifest, new_token_counts = write_parts(files, str(temporary), workers or default_workers(), progress, tokens, engine)
    if tokens and new_token_counts:
        write_cache(Path(tokens.cache_file), known_counts(tokens.cache_file, tokens.cache_version) | new_token_counts)
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


def read_parts(parts_dir: str) -> pa.Table:
    """All converted rows of parts_dir in source order (part-number order, as DuckDB's glob reads
    them), for tests."""
    paths = sorted(Path(parts_dir).glob(PART_GLOB))
    return pa.concat_tables([pq.read_table(path, schema=CONVERTED_SCHEMA) for path in paths]) if paths else CONVERTED_SCHEMA.empty_table()
