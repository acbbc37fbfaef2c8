"""One row per flag code (sera_rectify.flags): where the flag is decided and what it means.

The codes are constants of the package; this model serves the same table to SQL: the check of the
`exclude_flags` var (macros/selection_vars.sql), the test that every flag a row carries is known, and
the card's table of flags.
"""

import pyarrow as pa

from sera_rectify.flags import BENCHMARK_FLAGS, MEANINGS


def model(dbt, session):
    dbt.config(materialized="table")
    return pa.table(
        {
            "flag": list(MEANINGS),
            "flag_position": list(range(len(MEANINGS))),
            "decided_from": [decided_from for decided_from, _ in MEANINGS.values()],
            "needs_benchmark": [flag in BENCHMARK_FLAGS for flag in MEANINGS],
            "meaning": [meaning for _, meaning in MEANINGS.values()],
        }
    )
