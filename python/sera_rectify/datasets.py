"""The four published SERA datasets (spec/sources.md table), for the code that runs outside dbt.

dbt reads the same table from seeds/sera_datasets.csv; tests/unit/test_datasets.py keeps the two equal.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SeraDataset:
    """One source dataset: its folder / Hub name, teacher, scale, rollout and Hub repo."""

    name: str
    teacher: str
    scale: str
    rollout: str
    published_rows: int
    hub_repo_id: str


SERA_DATASETS: tuple[SeraDataset, ...] = (
    SeraDataset("Sera-4.5A-Full-T1", "GLM-4.5-Air", "full", "T1", 72118, "allenai/Sera-4.5A-Full-T1"),
    SeraDataset("Sera-4.5A-Full-T2", "GLM-4.5-Air", "full", "T2", 66337, "allenai/Sera-4.5A-Full-T2"),
    SeraDataset("Sera-4.6-Lite-T1", "GLM-4.6", "lite", "T1", 36825, "allenai/Sera-4.6-Lite-T1"),
    SeraDataset("Sera-4.6-Lite-T2", "GLM-4.6", "lite", "T2", 36083, "allenai/Sera-4.6-Lite-T2"),
)
DATASET_NAMES: tuple[str, ...] = tuple(dataset.name for dataset in SERA_DATASETS)
