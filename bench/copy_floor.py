#!/usr/bin/env python3
"""The copy floor: DuckDB reads the JSON Lines sources and rewrites their 8 columns as one zstd Parquet.

No conversion at all, so nothing built on DuckDB can read and write the same bytes faster: the build's
throughput is judged against this (bench/run.py, step a). Same pinned duckdb as the project, threads = all
cores, columns given explicitly as VARCHAR (no type sniffing), rows up to 256 MiB, no hive partitioning.

Usage: python bench/copy_floor.py --sources DIR --out FILE.parquet   (prints a JSON summary line)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import duckdb

from sera_rectify.datasets import DATASET_NAMES
from sera_rectify.sources import COLUMNS

MAX_OBJECT_BYTES = 256 * 1024 * 1024


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def source_files(sources: Path) -> list[str]:
    """Every *.jsonl under the dataset folders, datasets in table order, then sorted path order."""
    files = []
    for dataset in DATASET_NAMES:
        files += sorted(
            str(p) for p in (sources / dataset).rglob("*.jsonl") if not any(part.startswith(".") for part in p.relative_to(sources).parts)
        )
    return files


def copy_query(files: list[str], out: Path) -> str:
    columns = ", ".join(f"{literal(c)}: 'VARCHAR'" for c in COLUMNS)
    return (
        f"copy (select {', '.join(COLUMNS)} from read_json([{', '.join(literal(f) for f in files)}], "
        f"format = 'newline_delimited', columns = {{{columns}}}, maximum_object_size = {MAX_OBJECT_BYTES}, "
        f"hive_partitioning = false)) to {literal(str(out))} (format parquet, compression zstd)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--memory-limit", default=None, help="DuckDB memory_limit (default: DuckDB's own, 80%% of RAM)")
    args = parser.parse_args(argv)
    files = source_files(args.sources)
    if not files:
        raise SystemExit(f"no *.jsonl under the dataset folders of {args.sources}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    connection = duckdb.connect()
    connection.execute(f"set threads = {args.threads}")
    connection.execute(f"set temp_directory = {literal(str(args.out.parent / 'copy_floor_spill'))}")
    if args.memory_limit:
        connection.execute(f"set memory_limit = {literal(args.memory_limit)}")
    connection.execute(copy_query(files, args.out))
    rows = connection.execute(f"select count(*) from read_parquet({literal(str(args.out))})").fetchone()[0]
    print(
        json.dumps(
            {
                "files": len(files),
                "rows_out": rows,
                "threads": args.threads,
                "memory_limit": connection.execute("select current_setting('memory_limit')").fetchone()[0],
                "duckdb": duckdb.__version__,
                "seconds": round(time.perf_counter() - started, 3),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
