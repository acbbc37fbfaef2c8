"""Worker processes for the conversion: an ordered map with a bounded window of work in flight.

The conversion's chunks and the source files' row counts are mapped over worker processes; results
come back in input order, and at most 2 x workers items are in flight, so memory stays bounded
whatever the size of the input.
"""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")

R = TypeVar("R")

# glibc's mallopt parameter number and the value for the worker processes (prepare_worker)
M_TRIM_THRESHOLD = -1

MALLOC_TRIM_THRESHOLD_BYTES = 1024 * 1024 * 1024


def default_workers() -> int:
    """SERA_THREADS, else the number of cores (spec/interface.md)."""
    return int(os.environ.get("SERA_THREADS") or os.cpu_count() or 1)


def worker_context() -> multiprocessing.context.BaseContext:
    """fork where the platform has it: a spawned worker re-imports the parent's main script, which
    under dbt is its whole CLI (docs/benchmark.md); the forked worker runs only the mapped function."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def prepare_worker() -> None:
    """Run once in each worker process before its first item.

    gc.freeze(): the objects a forked worker inherits (all of dbt's) are left out of its garbage
    collections, which would otherwise walk them again and again while the conversion allocates.
    mallopt (glibc only): every row allocates and frees strings of 100 KB to a few MB; by default
    glibc hands freed memory back to the kernel and faults fresh pages in for the next row, and
    the workers spent much of their CPU time in the kernel on page faults. A high trim threshold
    keeps the freed pages for reuse: fewer faults, less CPU (docs/benchmark.md). The
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
