"""Planning the conversion's work from the file listing alone, and reading it in the tasks.

The main process only lists the files (their sizes come with the listing). A plain JSON Lines file is
planned as byte ranges of CHUNK_MAX_BYTES by its size: each task reads its own range and aligns it to
line starts (sources.read_line_range), so no node reads the whole file to find where lines end. A
Parquet file is planned the same way: each task reads the footer and the row groups that start in its
range (sources.iter_parquet_rows). A compressed, .json or .traj file cannot be entered in the middle: it
is one chunk, read whole by its task. A task writes its rows as parts of at most PART_MAX_ROWS rows or about PART_MAX_BYTES bytes,
so its memory stays bounded whatever the size of the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .sources import (
    SourceFile,
    is_plain_jsonl,
    iter_lines,
    iter_parquet_rows,
    json_rows,
    read_bytes,
    read_line_range,
)

CHUNK_MAX_BYTES = 32 * 1024 * 1024

PART_MAX_ROWS = 256

PART_MAX_BYTES = 32 * 1024 * 1024


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


@dataclass(frozen=True)
class Chunk:
    """Work planned from the listing alone: the lines of a plain JSON Lines file that start in
    `byte_range`, or a whole file (byte_range None). last_of_file marks a file's last chunk."""

    source: SourceFile
    dataset: Dataset
    byte_range: tuple[int, int] | None
    last_of_file: bool

    @property
    def n_bytes(self) -> int:
        """Source bytes the chunk stands for (for the progress line)."""
        if self.byte_range is None:
            return self.source.file_bytes
        return self.byte_range[1] - self.byte_range[0]


def plan_chunks(source: SourceFile, dataset: Dataset) -> list[Chunk]:
    """A plain JSON Lines or a Parquet file: consecutive byte ranges of CHUNK_MAX_BYTES covering its
    listed size (one empty range for an empty file, so every file gets a part); any other file: one chunk."""
    if not (is_plain_jsonl(source) or source.file_format == "parquet"):
        return [Chunk(source, dataset, None, True)]
    size = source.file_bytes
    starts = range(0, max(size, 1), CHUNK_MAX_BYTES)
    return [Chunk(source, dataset, (start, min(start + CHUNK_MAX_BYTES, size)), start + CHUNK_MAX_BYTES >= size) for start in starts]


def chunk_records(chunk: Chunk) -> Iterable[Any]:
    """A chunk's records, read in its task: lines (bytes) of a JSON Lines file, Parquet row dicts, a
    .json file's items, or a .traj / .yaml file's bytes."""
    source = chunk.source
    if source.file_format == "parquet":
        return iter_parquet_rows(source, PART_MAX_ROWS, chunk.dataset.source_format == "sera", chunk.byte_range)
    if chunk.byte_range is not None:
        return read_line_range(source, *chunk.byte_range)
    if source.file_format == "jsonl":
        return iter_lines(source.path)
    if source.file_format == "json":
        return json_rows(source)
    return [read_bytes(source)]


def part_groups(records: Iterable[Any]) -> Iterator[list[Any]]:
    """Consecutive records in groups of at most PART_MAX_ROWS rows or about PART_MAX_BYTES bytes, each
    written as one part; at least one group (empty for a chunk without rows)."""
    group: list[Any] = []
    n_bytes = 0
    for record in records:
        if len(group) >= PART_MAX_ROWS or n_bytes >= PART_MAX_BYTES:
            yield group
            group, n_bytes = [], 0
        group.append(record)
        n_bytes += len(record) if isinstance(record, bytes) else 0
    yield group
