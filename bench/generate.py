#!/usr/bin/env python3
"""Write realistic synthetic SERA sources of any size, for the benchmark (bench/run.py).

Layout: `<dest>/<dataset>/<lowercase dataset>_bench.jsonl` for the four datasets (spec/sources.md), one
json.dumps(row) per line (ASCII-escaped, as published), the eight published columns. The total is split
across the datasets in the published proportions 72118:66337:36825:36083, by bytes (`--bytes`) or rows
(`--rows`).

Rows come from `sera_testkit.synthetic.make_row(dataset, j, seed, "realistic")`: 13-112 tool calls (mean ~42),
realistic tool outputs and thoughts, ~70-400 KB per row (mean ~200 KB). make_row costs ~20-40 ms a row, too
slow for 10,000+ rows, so:

  POOL AND CYCLE. For each dataset, a pool of `--pool` distinct rows (j = 0 .. pool-1) is made once and
  encoded once. Output row k of a dataset is copy c = k // pool of pool row k % pool, changed in two places:
  its instance_id becomes `<pool instance_id>_c<c>`, so (dataset, instance_id) stays unique, and its user
  message gets "(benchmark copy <c>)" at the start of the PR description, so no two output rows carry the
  same `messages` either (otherwise Parquet dictionary encoding stores the repeats once, which flattered the
  naive converter's writes: 9.4 MB of Parquet per 100 MB of input with the tag, 6.7 MB without). Every
  row is still a valid, convertible trajectory. Everything else repeats every `pool` rows, ~16 MB apart at
  pool 80: beyond zstd's window, so compression is not flattered either (measured: the copy floor's and
  the naive converter's Parquet are the same size at pool 80 and pool 300).

Deterministic: the same (seed, pool, size, synthetic.py) gives the same bytes. Streaming: rows are written
one at a time; memory is bounded by the pool (~60 MB for 4 x 80 rows), not by the output size.

Cache: `<dest>/bench_manifest.json` records what was written (generator version, hash of synthetic.py,
seed, pool, target, per-dataset rows and bytes). When it matches the request and the files have the
recorded sizes, nothing is rewritten. Files are written under a dot-name and renamed, and the manifest
last, so an interrupted run is never mistaken for a complete one.

BENCHMARK FILE. `write_benchmark` adds `<dest>/benchmark.parquet`, a benchmark in SWE-bench's layout for the
overlap check (the `benchmark` var, docs/flags.md): BENCHMARK_TASKS tasks, as many as SWE-bench Verified,
~250-word problem statements as Verified's; the first BENCHMARK_PLANTED are the problem statements of
generated rows (so the check finds and records overlaps), the others random sequences of the same rows' words
(same vocabulary, no 13-word run in common).

Usage: PYTHONPATH=tests/support python bench/generate.py --dest bench/data/x --bytes 2e9 [--seed 20260125] [--pool 80]
       PYTHONPATH=tests/support python bench/generate.py --dest bench/data/y --rows 1000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import time
from functools import cache
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from sera_rectify.datasets import SERA_DATASETS
from sera_rectify.flags import row_repository
from sera_testkit import synthetic

GENERATOR_VERSION = 2
MANIFEST = "bench_manifest.json"
DEFAULT_SEED = 20260125
DEFAULT_POOL = 80
# spec/sources.md: published rows per dataset, in the table's order (also the output order)
PROPORTIONS = {dataset.name: dataset.published_rows for dataset in SERA_DATASETS}
ID_SENTINEL = "\u0000bench-instance-id\u0000"
COPY_SENTINEL = "QQbenchcopyQQ"  # plain ASCII: no escaping at either JSON level
PR_MARKER = "<pr_description>\n\n"
WRITE_BUFFER = 8 * 1024 * 1024
BENCHMARK_FILE = "benchmark.parquet"
BENCHMARK_TASKS = 500
BENCHMARK_PLANTED = 50
BENCHMARK_WORDS = 250


def dataset_file(dataset: str) -> str:
    """The file of a dataset, relative to dest."""
    return f"{dataset}/{dataset.lower()}_bench.jsonl"


def synthetic_hash() -> str:
    """Changes to synthetic.py change the rows, so they invalidate the cache."""
    return hashlib.sha256(Path(synthetic.__file__).read_bytes()).hexdigest()[:16]


def split(total: float, weights: dict[str, int]) -> dict[str, float]:
    """`total` split in proportion to `weights`."""
    whole = sum(weights.values())
    return {name: total * weight / whole for name, weight in weights.items()}


def split_rows(total: int, weights: dict[str, int]) -> dict[str, int]:
    """Integer rows per dataset summing to `total` (largest remainder), at least one each when total >= 4."""
    shares = split(total, weights)
    rows = {name: int(share) for name, share in shares.items()}
    for name in sorted(shares, key=lambda n: shares[n] - rows[n], reverse=True)[: total - sum(rows.values())]:
        rows[name] += 1
    return rows


@cache
def pool_row(dataset: str, seed: int, j: int) -> tuple[bytes, bytes, bytes, str]:
    """Pool row j of a dataset, encoded once, split where the per-copy texts go: (before the copy tag in
    the user message, from there to the instance_id value, after it), plus the pool instance_id.

    Writing a copy is then a byte concatenation, not a json.dumps. The cache holds at most `pool` rows
    per dataset.
    """
    row = synthetic.make_row(dataset, j, seed, "realistic")
    messages = json.loads(row["messages"])
    user = messages[1]["content"][0]
    if PR_MARKER not in user["text"]:
        raise RuntimeError(f"pool row {j} of {dataset}: no {PR_MARKER!r} in the user message")
    user["text"] = user["text"].replace(PR_MARKER, PR_MARKER + COPY_SENTINEL, 1)
    line = json.dumps(dict(row, messages=json.dumps(messages), instance_id=ID_SENTINEL)).encode("ascii")
    head, found_copy, rest = line.partition(COPY_SENTINEL.encode("ascii"))
    middle, found_id, tail = rest.partition(json.dumps(ID_SENTINEL).encode("ascii"))
    if not (found_copy and found_id):
        raise RuntimeError(f"cannot place the per-copy texts in pool row {j} of {dataset}")
    return head, middle, tail + b"\n", row["instance_id"]


def copy_tag(copy: int) -> bytes:
    """The text that makes copy k of a pool row distinct (inside the PR description of the user message)."""
    return f"(benchmark copy {copy})\\\\n\\\\n".encode("ascii")


def write_dataset(path: Path, dataset: str, seed: int, pool: int, max_bytes: float | None, max_rows: int | None) -> tuple[int, int]:
    """Cycle the pool into `path` until max_rows rows or at least max_bytes bytes; returns (rows, bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name("." + path.name + ".tmp")
    rows = written = 0
    with open(temporary, "wb", buffering=WRITE_BUFFER) as handle:
        while (max_rows is None or rows < max_rows) and (max_bytes is None or written < max_bytes):
            head, middle, tail, instance_id = pool_row(dataset, seed, rows % pool)
            copy = rows // pool
            tag = copy_tag(copy)
            value = json.dumps(f"{instance_id}_c{copy}").encode("ascii")
            for piece in (head, tag, middle, value, tail):
                handle.write(piece)
            written += len(head) + len(tag) + len(middle) + len(value) + len(tail)
            rows += 1
    os.replace(temporary, path)
    return rows, written


def request_of(seed: int, pool: int, target_bytes: float | None, target_rows: int | None) -> dict:
    return {
        "generator_version": GENERATOR_VERSION,
        "synthetic_sha256": synthetic_hash(),
        "seed": seed,
        "pool": pool,
        "target_bytes": None if target_bytes is None else int(target_bytes),
        "target_rows": target_rows,
    }


def cached_manifest(dest: Path, request: dict) -> dict | None:
    """The manifest in dest when it matches the request and every file still has its recorded size."""
    try:
        manifest = json.loads((dest / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if manifest.get("request") != request:
        return None
    for entry in manifest["datasets"].values():
        path = dest / entry["file"]
        if not path.is_file() or path.stat().st_size != entry["bytes"]:
            return None
    return manifest


def generate(
    dest: str | Path,
    target_bytes: float | None = None,
    target_rows: int | None = None,
    seed: int = DEFAULT_SEED,
    pool: int = DEFAULT_POOL,
    quiet: bool = False,
) -> dict:
    """Write (or reuse) the four datasets under dest; returns the manifest (with `cached` and `seconds`)."""
    if (target_bytes is None) == (target_rows is None):
        raise ValueError("give exactly one of target_bytes and target_rows")
    if (target_rows is not None and target_rows < len(PROPORTIONS)) or (target_bytes is not None and target_bytes <= 0):
        raise ValueError("ask for at least one row per dataset (rows >= 4, bytes > 0)")
    dest = Path(dest)
    request = request_of(seed, pool, target_bytes, target_rows)
    started = time.perf_counter()
    manifest = cached_manifest(dest, request)
    if manifest is not None:
        if not quiet:
            print(f"generate: reusing {dest} ({manifest['total_rows']} rows, {manifest['total_bytes'] / 1e6:.1f} MB)", file=sys.stderr)
        return dict(manifest, cached=True, seconds=time.perf_counter() - started)
    (dest / MANIFEST).unlink(missing_ok=True)
    (dest / BENCHMARK_FILE).unlink(missing_ok=True)  # made from the rows: made again with them
    byte_budget = split(target_bytes, PROPORTIONS) if target_bytes is not None else {}
    row_budget = split_rows(target_rows, PROPORTIONS) if target_rows is not None else {}
    datasets = {}
    for dataset in PROPORTIONS:
        relative = dataset_file(dataset)
        rows, written = write_dataset(dest / relative, dataset, seed, pool, byte_budget.get(dataset), row_budget.get(dataset))
        datasets[dataset] = {"file": relative, "rows": rows, "bytes": written}
        if not quiet:
            print(f"generate: {relative}: {rows} rows, {written / 1e6:.1f} MB", file=sys.stderr)
    manifest = {
        "request": request,
        "datasets": datasets,
        "total_rows": sum(d["rows"] for d in datasets.values()),
        "total_bytes": sum(d["bytes"] for d in datasets.values()),
    }
    temporary = dest / ("." + MANIFEST + ".tmp")
    temporary.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(temporary, dest / MANIFEST)
    return dict(manifest, cached=False, seconds=time.perf_counter() - started)


def write_benchmark(dest: str | Path, seed: int, pool: int) -> Path:
    """`<dest>/benchmark.parquet` (see the module docstring), from the pool rows of the first dataset;
    written once (the same seed and pool give the same rows)."""
    path = Path(dest) / BENCHMARK_FILE
    if path.is_file():
        return path
    dataset = next(iter(PROPORTIONS))
    rows = [synthetic.make_row(dataset, j % pool, seed, "realistic") for j in range(min(pool, BENCHMARK_PLANTED))]
    tasks = [
        {
            "instance_id": f"planted__{row['instance_id']}-{index}",
            "repo": row_repository(None, row["docker_image"]),
            "problem_statement": row["problem_statement"],
        }
        for index, row in enumerate(rows)
    ]
    words = sorted({word for row in rows for word in row["problem_statement"].split()})
    rng = random.Random(seed)
    tasks += [
        {
            "instance_id": f"other__task-{index}",
            "repo": f"other/repo{index % 12}",
            "problem_statement": " ".join(rng.choices(words, k=BENCHMARK_WORDS)),
        }
        for index in range(BENCHMARK_TASKS - len(tasks))
    ]
    temporary = path.with_name("." + path.name + ".tmp")
    pq.write_table(pa.Table.from_pylist(tasks), temporary)
    os.replace(temporary, path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dest", required=True, help="sources_dir to write (one folder per dataset)")
    size = parser.add_mutually_exclusive_group(required=True)
    size.add_argument("--bytes", type=float, help="total size of the JSON Lines files, e.g. 2e9")
    size.add_argument("--rows", type=int, help="total rows")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--pool", type=int, default=DEFAULT_POOL, help="distinct rows per dataset (cycled)")
    args = parser.parse_args(argv)
    manifest = generate(args.dest, args.bytes, args.rows, args.seed, args.pool)
    print(json.dumps({k: manifest[k] for k in ("total_rows", "total_bytes", "cached", "seconds")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
