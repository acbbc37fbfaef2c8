"""The published SERA datasets, for the code that runs outside dbt (download, the convert command).

The one list is the dbt seed seeds/sera_datasets.csv; the package reads it as package data
(sera_rectify/data/sera_datasets.csv links to it), so adding a dataset is one row there.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class SeraDataset:
    """One source dataset: its folder / Hub name, teacher, scale, rollout and Hub repo."""

    name: str
    teacher: str
    scale: str
    rollout: str
    published_rows: int
    hub_repo_id: str


def read_seed() -> tuple[SeraDataset, ...]:
    """The seed's rows in export order (dataset_order)."""
    text = resources.files("sera_rectify").joinpath("data", "sera_datasets.csv").read_text(encoding="utf-8")
    rows = sorted(csv.DictReader(io.StringIO(text)), key=lambda row: int(row["dataset_order"]))
    return tuple(
        SeraDataset(row["dataset"], row["teacher"], row["scale"], row["rollout"], int(row["published_rows"]), row["hub_repo_id"])
        for row in rows
    )


SERA_DATASETS: tuple[SeraDataset, ...] = read_seed()
DATASET_NAMES: tuple[str, ...] = tuple(dataset.name for dataset in SERA_DATASETS)
