"""The package reads the datasets from the dbt seed itself (one list), and the seed is spec/sources.md's table."""

from __future__ import annotations

import csv
import re

import pytest

from sera_rectify.datasets import DATASET_NAMES, SERA_DATASETS
from sera_testkit.constants import DATASETS_SEED, REPO, SHARED_DIR


def test_package_data_is_the_seed_file() -> None:
    packaged = REPO / "python" / "sera_rectify" / "data" / "sera_datasets.csv"
    assert packaged.resolve() == DATASETS_SEED.resolve()


def test_datasets_equal_the_seed_in_order() -> None:
    with open(DATASETS_SEED, newline="", encoding="utf-8") as handle:
        rows = sorted(csv.DictReader(handle), key=lambda row: int(row["dataset_order"]))
    seed = [(r["dataset"], r["teacher"], r["scale"], r["rollout"], int(r["published_rows"]), r["hub_repo_id"]) for r in rows]
    assert [(d.name, d.teacher, d.scale, d.rollout, d.published_rows, d.hub_repo_id) for d in SERA_DATASETS] == seed
    assert DATASET_NAMES == tuple(row[0] for row in seed)


def test_seed_is_the_table_of_the_contract() -> None:
    sources_md = SHARED_DIR / "spec" / "sources.md"
    if not sources_md.exists():
        pytest.skip("../shared/spec is not beside the repo")
    table = re.findall(r"^\| (Sera-[^ ]+) \| ([\d,]+) \| ([^ ]+) \| (\w+) \| (T\d) \|", sources_md.read_text(encoding="utf-8"), re.M)
    assert [(d.name, d.published_rows, d.teacher, d.scale, d.rollout) for d in SERA_DATASETS] == [
        (name, int(rows.replace(",", "")), teacher, scale, rollout) for name, rows, teacher, scale, rollout in table
    ]
    assert all(d.hub_repo_id == f"allenai/{d.name}" for d in SERA_DATASETS)
