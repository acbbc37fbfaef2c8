"""Planning the conversion's work: each source file split into chunks of consecutive rows.

A plain JSON Lines file is planned as byte ranges (the main process only finds where lines end; each
worker reads its own range); a compressed file, a Parquet file or a .traj file is read here record by
record. A chunk holds at most CHUNK_MAX_ROWS rows or about CHUNK_MAX_BYTES bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .sources import (
    SourceError,
    SourceFile,
    is_plain_jsonl,
    iter_line_ends,
    iter_lines,
    iter_parquet_rows,
    json_rows,
    read_bytes,
    read_line_range,
)

CHUNK_MAX_ROWS = 256

CHUNK_MAX_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class Dataset:
    """What every row of a dataset carries: its export order and teacher, scale, rollout (the seed or
    the traj_dirs entry; null when not declared), and the format its rows are written in (formats.py)."""

    name: str
    order: int
    teacher: str | None
    scale: str | None
    rollout: str | None
    source_format: str = "sera"


@dataclass
class Chunk:
    """Consecutive rows of one file: the byte range of a plain JSON Lines file (its worker reads the
    lines), or the records themselves: lines of a compressed file, .traj contents, Parquet row dicts,
    a .json file's items."""

    source: SourceFile
    dataset: Dataset
    first_row: int
    records: list[Any] = field(default_factory=list)
    byte_range: tuple[int, int] | None = None
    n_rows: int = 0
    n_bytes: int = 0
    last_of_file: bool = False


def chunk_records(chunk: Chunk) -> list[Any]:
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
    records: Iterable[Any]
    if source.file_format == "jsonl":
        records = iter_lines(source.path)
    elif source.file_format == "parquet":
        records = iter_parquet_rows(source, CHUNK_MAX_ROWS, published_columns=dataset.source_format == "sera")
    elif source.file_format == "json":
        records = json_rows(source)
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
