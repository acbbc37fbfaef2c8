"""The package's table of the four datasets equals the dbt seed (seeds/sera_datasets.csv)."""

from __future__ import annotations

import csv
from pathlib import Path

from sera_rectify.datasets import SERA_DATASETS

SEED = Path(__file__).resolve().parents[2] / "seeds" / "sera_datasets.csv"


def test_datasets_equal_the_seed_in_order() -> None:
    with open(SEED, newline="", encoding="utf-8") as handle:
        rows = sorted(csv.DictReader(handle), key=lambda row: int(row["dataset_order"]))
    seed = [(r["dataset"], r["teacher"], r["scale"], r["rollout"], int(r["published_rows"]), r["hub_repo_id"]) for r in rows]
    assert [(d.name, d.teacher, d.scale, d.rollout, d.published_rows, d.hub_repo_id) for d in SERA_DATASETS] == seed
