"""Running this repo's `dbt build` from the integration tests, with every output under a work folder.

One place for the command line and environment, so every test builds the project the same way a user
does (`dbt build` in the repo, profiles.yml from the repo), only with the database, target, logs, spill
folder and export in the test's temporary folder.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb

from sera_testkit.constants import REPO, SHARED_DIR

CHECK_OUTPUT = SHARED_DIR / "tools" / "check_output.py"
EXPORT_NAME = "sera_rectified.parquet"


def dbt_command(
    workdir: Path, vars: dict | None = None, *, db: str = "sera.duckdb", env: dict | None = None, args: tuple[str, ...] = ("build",)
) -> tuple[list[str], dict]:
    """The dbt command (`args`: `build` unless told) and its environment, every output under workdir;
    `env` adds variables."""
    all_vars = {"export_path": str(workdir / "output" / EXPORT_NAME)} | (vars or {})
    command = [
        str(Path(sys.executable).with_name("dbt")),
        *args,
        "--project-dir", str(REPO),
        "--profiles-dir", str(REPO),
        "--target-path", str(workdir / "target"),
        "--log-path", str(workdir / "logs"),
        "--vars", json.dumps(all_vars),
    ]
    base = {"SERA_DB": str(workdir / db), "SERA_TEMP_DIR": str(workdir / "spill"), "PATH": "/usr/bin:/bin", "HOME": str(workdir)}
    return command, base | (env or {})


def dbt_build(
    workdir: Path,
    *,
    vars: dict | None = None,
    db: str = "sera.duckdb",
    env: dict | None = None,
    timeout: float = 600,
    args: tuple[str, ...] = ("build",),
) -> subprocess.CompletedProcess:
    """Run `dbt build` (or the dbt command `args`) to the end; its output is in the result."""
    command, environment = dbt_command(workdir, vars, db=db, env=env, args=args)
    return subprocess.run(command, cwd=REPO, env=environment, capture_output=True, text=True, timeout=timeout)


def start_dbt_build(workdir: Path, vars: dict | None = None, *, output: Path, env: dict | None = None) -> subprocess.Popen:
    """dbt build in its own process group (so a test can kill dbt and its worker processes together);
    its output goes to the file `output` (a pipe nobody reads could fill up and stall dbt)."""
    command, environment = dbt_command(workdir, vars, env=env)
    with open(output, "wb") as handle:
        return subprocess.Popen(command, cwd=REPO, env=environment, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)


def query(workdir: Path, sql: str) -> list[tuple]:
    """Rows of a query on the build's database, read-only."""
    with duckdb.connect(str(workdir / "sera.duckdb"), read_only=True) as connection:
        return connection.execute(sql).fetchall()
