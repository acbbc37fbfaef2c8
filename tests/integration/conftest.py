"""Fixtures shared by the integration tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from dbt_runs import dbt_build


@pytest.fixture(scope="session")
def sample_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One `dbt build` of the embedded sample, shared by the modules that only read what it wrote."""
    workdir = tmp_path_factory.mktemp("sample_build")
    result = dbt_build(workdir)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    return workdir
