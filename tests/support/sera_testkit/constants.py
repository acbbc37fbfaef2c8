"""Literals and repository paths that several test files share, each written once.

The SERA message texts (system prompt, tool-output label, empty-output text, cost-limit exit) are the ones
spec/sources.md describes; the synthetic row generator already defines them, so they are taken from there.
"""

from __future__ import annotations

from pathlib import Path

from sera_testkit.synthetic import COST_LIMIT_EXIT, EMPTY_OUTPUT, OBSERVATION
from sera_testkit.synthetic import SYSTEM_PROMPT as SERA_SYSTEM

__all__ = [
    "COST_LIMIT_EXIT",
    "DATASETS_SEED",
    "EMPTY_OUTPUT",
    "EXPORT_COLUMNS",
    "FIXTURES_DIR",
    "OBSERVATION",
    "PACKAGE_SPEC_DIR",
    "REPO",
    "SAMPLE_DIR",
    "SERA_ROWS_DATASET",
    "SERA_ROWS_FILE",
    "SERA_SYSTEM",
    "SHARED_DIR",
    "OTHER_FORMATS_DIR",
    "SWE_AGENT_DIR",
    "TESTS_DIR",
]

REPO = Path(__file__).resolve().parents[3]  # tests/support/sera_testkit/constants.py
TESTS_DIR = REPO / "tests"
FIXTURES_DIR = TESTS_DIR / "fixtures"
SWE_AGENT_DIR = FIXTURES_DIR / "swe-agent"
# real rows of other scaffolds, one folder per dataset and source format (its ATTRIBUTION.md)
OTHER_FORMATS_DIR = FIXTURES_DIR / "other-formats"
# The three real rows of allenai/Sera-4.6-Lite-T2 (published column layout), and the dataset they come from
SERA_ROWS_FILE = FIXTURES_DIR / "sera" / "sera-4.6-lite-t2_sample_raw.json"
SERA_ROWS_DATASET = "Sera-4.6-Lite-T2"
# The dbt seed listing the four published datasets
DATASETS_SEED = REPO / "seeds" / "sera_datasets.csv"
# The spec files as checked in with the package (read by path, independently of sera_rectify.spec)
PACKAGE_SPEC_DIR = REPO / "python" / "sera_rectify" / "spec"
# The embedded sample (scripts/generate_sample.py)
SAMPLE_DIR = REPO / "data" / "sample"
# ../shared next to the repository (spec, fixtures, tools), as the Makefile's SHARED
SHARED_DIR = REPO.parent / "shared"
# The main export's columns, in order, as the tests expect them (written out, not read from sera_rectify.export)
EXPORT_COLUMNS = ("messages", "instance_id", "teacher", "scale", "rollout", "func_name", "func_path", "line_level_recall")
