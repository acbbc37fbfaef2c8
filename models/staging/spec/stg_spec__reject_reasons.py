"""One row per reject reason code (sera_rectify.reasons): where the rule is specified and what it means.

The codes are constants of the package, which writes them; this model serves the same table to SQL
(the test that every reject has a known reason, the card's table of rejects).
"""

import pyarrow as pa

from sera_rectify.reasons import MEANINGS


def model(dbt, session):
    dbt.config(materialized="table")
    return pa.table(
        {
            "reason": list(MEANINGS),
            "checked_in": [checked_in for checked_in, _ in MEANINGS.values()],
            "meaning": [meaning for _, meaning in MEANINGS.values()],
        }
    )
