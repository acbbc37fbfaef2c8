"""One row per task of the benchmark the rows are checked against (vars benchmark, benchmark_split), or
no row when the benchmark var is not set.

Loaded before any source row is converted (int_conversion_parts refs this model), so a benchmark that
cannot be read or lacks a column stops the build first (sera_rectify.benchmark).
"""

from sera_rectify.benchmark import load_benchmark


def model(dbt, session):
    dbt.config(materialized="table")
    benchmark = dbt.config.get("benchmark")
    benchmark_split = dbt.config.get("benchmark_split")
    return load_benchmark(session, benchmark, benchmark_split)
