#!/usr/bin/env python3
"""Write the embedded sample (data/sample/): synthetic rows for the four datasets plus three real rows.

Why: the quick-start run and the tests use this sample instead of the 211k published rows. It must be
reproducible byte for byte (tests/unit/test_synthetic.py regenerates it and compares with the checked-in copy),
so everything here is deterministic and reads nothing outside the repository.

Usage: make sample, or PYTHONPATH=tests/support python scripts/generate_sample.py [--dest data/sample] [--seed 20260125]
(the generator is sera_testkit.synthetic, in tests/support/: test support, not part of the installed package)
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from pathlib import Path

from sera_testkit.synthetic import CASE_DESCRIPTIONS, COLUMNS, DATASETS, iter_rows, sample_case

REPO = Path(__file__).resolve().parent.parent

DEFAULT_SEED = 20260125
ROWS_PER_DATASET = 25
REAL_FIXTURE = REPO / "tests" / "fixtures" / "sera" / "sera-4.6-lite-t2_sample_raw.json"
REAL_DATASET = "Sera-4.6-Lite-T2"
REAL_FILE = Path(REAL_DATASET) / "real" / "sera-4.6-lite-t2_real_rows.jsonl"


def sample_file(dataset: str) -> Path:
    """Where a dataset's synthetic rows go, relative to the sample folder."""
    return Path(dataset) / f"{dataset.lower()}_sample.jsonl"


def write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    """One json.dumps(row) per line (ASCII-escaped, as published), "\\n" line ends on every platform."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")


def real_rows() -> list[dict]:
    """The three real rows, values unchanged, keys in the published column order."""
    rows = json.loads(REAL_FIXTURE.read_text(encoding="utf-8"))
    return [{column: row[column] for column in COLUMNS} for row in rows]


def readme(seed: int) -> str:
    """data/sample/README.md: what is in the sample, how to rebuild it, and whose the real rows are."""
    command = "PYTHONPATH=tests/support python scripts/generate_sample.py" + ("" if seed == DEFAULT_SEED else f" --seed {seed}")
    lines = [
        "# Embedded sample",
        "",
        "Small inputs laid out like the published sources (one folder per dataset holding `*.jsonl` files, one",
        "row per line, the eight published columns), so the pipeline runs end to end without downloading anything.",
        "",
        "## Synthetic rows",
        "",
        f"Each dataset folder holds `{{dataset lower-cased}}_sample.jsonl`: {ROWS_PER_DATASET} rows made by",
        "`tests/support/sera_testkit/synthetic.py` (SWE-agent histories shaped like the real rows, with fake",
        "repositories, code and outputs; `make sample` reruns it). Most rows are ordinary and convert; some",
        "exercise one special case each, rows 1, 4, 7, ...:",
        "",
        "| dataset | rows | special cases (row index) |",
        "|---|---|---|",
    ]
    for dataset in DATASETS:
        cases = [f"{case} ({i})" for i in range(ROWS_PER_DATASET) if (case := sample_case(dataset, i))]
        lines.append(f"| {dataset} | {ROWS_PER_DATASET} | {', '.join(cases)} |")
    lines += ["", "| case | what the row shows |", "|---|---|"]
    lines += [f"| {case} | {what} |" for case, what in CASE_DESCRIPTIONS.items()]
    lines += [
        "",
        "## Real rows",
        "",
        f"`{REAL_FILE.as_posix()}` holds the first three rows of allenai/Sera-4.6-Lite-T2",
        "(`tinydb_10309`, `ptyprocess_10174`, `cantools_10317`), values unchanged. Source: allenai/Sera-4.6-Lite-T2,",
        "licensed under the Open Data Commons Attribution License (ODC-By) v1.0, as sampled in the public",
        "repository neulab/agent-data-protocol (datasets/allenai_Sera-4.6-Lite-T2/sample_raw.json). The verbatim",
        "copy and its attribution are in tests/fixtures/sera/.",
        "",
        "## How it was generated",
        "",
        "```",
        command,
        "```",
        "",
        "The output is deterministic: running it again gives byte-identical files, and",
        "tests/unit/test_synthetic.py fails when this folder is stale.",
        "",
    ]
    return "\n".join(lines)


def generate(dest: Path, seed: int = DEFAULT_SEED) -> list[Path]:
    """Write the whole sample under dest; returns the files written."""
    written = []
    for dataset in DATASETS:
        path = dest / sample_file(dataset)
        write_jsonl(path, iter_rows(dataset, ROWS_PER_DATASET, seed))
        written.append(path)
    write_jsonl(dest / REAL_FILE, real_rows())
    (dest / "README.md").write_text(readme(seed), encoding="utf-8", newline="\n")
    return written + [dest / REAL_FILE, dest / "README.md"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=REPO / "data" / "sample", help="output folder")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="generator seed")
    args = parser.parse_args(argv)
    for path in generate(args.dest, args.seed):
        print(f"{path.stat().st_size:>10,}  {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
