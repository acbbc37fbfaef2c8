"""Run one of the documented ad-hoc queries (queries/NAME.sql) read-only against sera.duckdb.

    python scripts/query.py --list
    python scripts/query.py rows_by_teacher_rollout [--db sera.duckdb]
    python scripts/query.py one_trajectory --set instance_id=tinydb_10309
    python scripts/query.py sera32b_subset --out output/sera32b_subset.parquet

NAME is a file name in queries/ without .sql (or a path to any .sql file). The database opens read-only, so
this never changes it (it fails while a `dbt build` holds the file open for writing: run it after the build).
--set KEY=VALUE sets a DuckDB variable the query reads with getvariable('KEY'). The result is printed as
DuckDB's table (long results show their first and last rows); --out writes all of it to a .parquet or .csv
(a local path or an s3:// URI). The connection has the project's S3 file system registered, so views over
converted parts on object storage read as local ones (docs/storage.md).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import duckdb

from sera_rectify.storage import is_remote, register_filesystems

QUERIES_DIR = Path(__file__).resolve().parent.parent / "queries"


def available() -> dict[str, Path]:
    """Query name -> file, sorted by name."""
    return {path.stem: path for path in sorted(QUERIES_DIR.glob("*.sql"))}


def first_comment(path: Path) -> str:
    """The query's first comment line: what it answers."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip().startswith("--"):
            return line.strip()[2:].strip()
    return ""


def resolve(name: str) -> Path | None:
    if name.endswith(".sql") and Path(name).is_file():
        return Path(name)
    return available().get(name)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python scripts/query.py", description=__doc__.splitlines()[0])
    parser.add_argument("name", nargs="?", help="query name (see --list) or path to a .sql file")
    parser.add_argument(
        "--db", default=os.environ.get("SERA_DB", "sera.duckdb"), help="DuckDB file (default: $SERA_DB or sera.duckdb)"
    )
    parser.add_argument("--list", action="store_true", help="list the queries with what each answers")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a DuckDB variable the query reads (repeatable)")
    parser.add_argument("--out", help="also write the whole result to this .parquet or .csv file")
    parser.add_argument("--max-rows", type=int, default=40, help="rows to print (default 40)")
    parser.add_argument(
        "--width", type=int, default=None, help="characters per printed line (default: the terminal's width; 200 when not a terminal)"
    )
    args = parser.parse_args(argv)
    if not args.list and not args.name:
        parser.error("give a query NAME or --list")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        queries = available()
        width = max((len(name) for name in queries), default=0)
        for name, path in queries.items():
            print(f"{name:<{width}}  {first_comment(path)}")
        return 0

    path = resolve(args.name)
    if path is None:
        print(f"error: no query named {args.name!r} in {QUERIES_DIR}; choose one of: {', '.join(available())}", file=sys.stderr)
        return 2
    variables = []
    for assignment in args.set:
        key, sep, value = assignment.partition("=")
        if not sep or not key.isidentifier():
            print(f"error: --set wants KEY=VALUE, got {assignment!r}", file=sys.stderr)
            return 2
        variables.append((key, value))
    if not Path(args.db).is_file():
        print(f"error: database {args.db} not found; build it first (`make run`) or pass --db / set SERA_DB", file=sys.stderr)
        return 2

    try:
        connection = duckdb.connect(args.db, read_only=True)
    except duckdb.Error as err:
        print(f"error: cannot open {args.db} read-only ({err}); is a dbt build running on it?", file=sys.stderr)
        return 2
    with connection:
        register_filesystems(connection)
        for key, value in variables:
            connection.execute(f"set variable {key} = ?", [value])
        try:
            relation = connection.sql(path.read_text(encoding="utf-8"))
            if args.out:
                if not is_remote(args.out):
                    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
                if Path(args.out).suffix == ".csv":
                    relation.write_csv(args.out)
                else:
                    relation.write_parquet(args.out, compression="zstd")
                print(f"wrote {args.out}", file=sys.stderr)
            width = args.width or (shutil.get_terminal_size().columns if sys.stdout.isatty() else 200)
            relation.show(max_rows=args.max_rows, max_width=width)
        except duckdb.Error as err:
            print(f"error: query {path.name} failed on {args.db}: {err}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
