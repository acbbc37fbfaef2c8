"""The export filter vars as a user types them (issue "Structure"): checked before any work, in one place
(macros/selection_vars.sql), and an export that would hold no row never replaces a good file.

Each case is a real `dbt build` with a file already at export_path; a refused value must stop the build
with one line naming the var, the value and the valid values, before any source file is read, and leave
that file as it was.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from dbt_runs import EXPORT_NAME, dbt_build

pytestmark = pytest.mark.integration

PREVIOUS = b"the previous good export"
ALL_DATASETS = "Sera-4.5A-Full-T1, Sera-4.5A-Full-T2, Sera-4.6-Lite-T1, Sera-4.6-Lite-T2"

# var values -> the fragments of the one error line
REFUSED = {
    "teacher typo": ({"teacher": "GLM-46"}, ['var teacher = "GLM-46" is not valid', "Valid values: GLM-4.5-Air, GLM-4.6"]),
    "rollout in lower case": ({"rollout": "t2"}, ['var rollout = "t2" is not valid', "Valid values: T1, T2"]),
    "scale not declared": ({"scale": ["lite", "small"]}, ['var scale = "small" is not valid', "Valid values: full, lite"]),
    "min_recall not a number": ({"min_recall": "abc"}, ['var min_recall = "abc" is not valid', "a number from 0 to 1"]),
    "min_recall above 1": ({"min_recall": 1.5}, ["var min_recall = 1.5 is not valid", "a number from 0 to 1"]),
    "teacher of a dataset not selected": (
        {"datasets": ["Sera-4.6-Lite-T2"], "teacher": "GLM-4.5-Air"},
        ['var teacher = "GLM-4.5-Air" is not valid', "Valid values: GLM-4.6 (the teacher values of the selected datasets Sera-4.6-Lite-T2)"],
    ),
    "unknown dataset": ({"datasets": ["Sera-4.6-Lite-T3"]}, ['var datasets = "Sera-4.6-Lite-T3" is not valid', ALL_DATASETS]),
    "allow_empty_export not a boolean": ({"allow_empty_export": "yes"}, ['var allow_empty_export = "yes" is not valid', "true or false"]),
    "traj_dirs key typo": (
        {"traj_dirs": {"gym": {"path": "tests/fixtures/other-formats/openhands", "fromat": "openhands"}}},
        ["var traj_dirs = ", "entries with the keys path, format, teacher, scale, rollout, license, attribution (unknown key fromat)"],
    ),
}


def with_previous_export(workdir: Path) -> Path:
    export = workdir / "output" / EXPORT_NAME
    export.parent.mkdir(parents=True)
    export.write_bytes(PREVIOUS)
    return export


def refused_build(workdir: Path, vars: dict):
    with_previous_export(workdir)
    return dbt_build(workdir, vars=vars)


@pytest.fixture(scope="module")
def refused(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One failing build per case, two at a time."""
    workdirs = {name: tmp_path_factory.mktemp(name.replace(" ", "_")) for name in REFUSED}
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(REFUSED, pool.map(refused_build, workdirs.values(), [vars for vars, _ in REFUSED.values()]), strict=True))
    return {name: (workdirs[name], results[name]) for name in REFUSED}


@pytest.mark.parametrize("case", REFUSED)
def test_a_bad_var_stops_the_build_with_one_line(refused: dict, case: str) -> None:
    workdir, result = refused[case]
    assert result.returncode == 1
    lines = [line for line in result.stdout.splitlines() if "is not valid" in line]
    assert lines, result.stdout[-3000:]
    assert all(fragment in lines[0] for fragment in REFUSED[case][1]), lines[0]
    assert "Traceback" not in result.stdout


@pytest.mark.parametrize("case", REFUSED)
def test_a_bad_var_stops_before_any_file_is_read_and_keeps_the_export(refused: dict, case: str) -> None:
    workdir, result = refused[case]
    assert "stg_sera__source_files" not in " ".join(line for line in result.stdout.splitlines() if " OK " in line)
    assert not (workdir / "sera_converted").exists()
    assert sorted(path.name for path in (workdir / "output").iterdir()) == [EXPORT_NAME]
    assert (workdir / "output" / EXPORT_NAME).read_bytes() == PREVIOUS


def test_an_export_that_would_hold_no_row_is_an_error_that_keeps_the_file(tmp_path: Path) -> None:
    export = with_previous_export(tmp_path)
    result = dbt_build(tmp_path, vars={"rollout": "T1", "min_recall": 0.5})  # T1 rows have no recall
    assert result.returncode == 1
    assert "the export would hold no row: no converted row has rollout = 'T1' and line_level_recall >= 0.5" in result.stdout
    assert "allow_empty_export: true" in result.stdout
    assert export.read_bytes() == PREVIOUS
    assert sorted(path.name for path in export.parent.iterdir()) == [EXPORT_NAME]  # no SFT file, no card


def test_allow_empty_export_writes_files_without_rows(tmp_path: Path) -> None:
    result = dbt_build(tmp_path, vars={"rollout": "T1", "min_recall": 0.5, "allow_empty_export": True})
    assert result.returncode == 0, result.stdout[-3000:]
    output = tmp_path / "output"
    assert pq.read_table(output / EXPORT_NAME).num_rows == 0
    assert pq.read_table(output / "sera_rectified_sft.parquet").num_rows == 0
    assert (output / "README.md").is_file()


def test_dbt_run_on_a_fresh_database_says_to_seed_first(tmp_path: Path) -> None:
    result = dbt_build(tmp_path, args=("run",))
    assert result.returncode == 1
    assert "the seed sera_datasets is not in" in result.stdout and "run `dbt seed` first, or `dbt build`" in result.stdout
