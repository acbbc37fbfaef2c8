"""Regenerate tests/golden/ from the real fixtures, deliberately (after a rendering change you meant).

    .venv/bin/python scripts/update_golden.py          # rewrite the files, print what changed
    .venv/bin/python scripts/update_golden.py --check  # exit 1 if any file would change

Each converting fixture gives tests/golden/<instance_id>.messages.json (a trajectory's instance_id is its
file name without the suffix): its converted `messages` as a
pretty-printed JSON list of {role, content} (indent=1, ensure_ascii=False), one line per field, so a
change in rendering shows as a readable diff. Each rejecting fixture gets an entry {reason, detail} in
tests/golden/rejects.json. Inputs go through the same path as `python -m sera_rectify convert FILE`
(sources.traj_record / the row as published, then rows.output_row), with the default dataset
names: Sera-4.6-Lite-T2 for the SERA rows, "swe-agent" (the folder name) for the trajectories.

After regenerating, READ the diff and check it by hand against ../shared/spec/conversion.md before
committing: the golden files are the record of what a person verified, not of what the code does.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sera_rectify.convert_file import load, output_row_of

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
GOLDEN_DIR = REPO / "tests" / "golden"
SERA_ROWS_FILE = FIXTURES / "sera" / "sera-4.6-lite-t2_sample_raw.json"
SWE_AGENT_DIR = FIXTURES / "swe-agent"
REJECTS_FILE = "rejects.json"


def fixture_inputs() -> list[tuple[Path, int | None]]:
    """(file, row) of every real fixture: the three SERA rows, then each SWE-agent file in name order."""
    rows = [(SERA_ROWS_FILE, index) for index in range(len(json.loads(SERA_ROWS_FILE.read_bytes())))]
    trajectories = sorted(p for p in SWE_AGENT_DIR.iterdir() if p.suffix in (".traj", ".yaml", ".yml"))
    return rows + [(path, None) for path in trajectories]


def reject_key(path: Path, row: int | None) -> str:
    """A rejecting fixture in rejects.json: its file name (and row, for a file of rows)."""
    return path.name if row is None else f"{path.name}#row{row}"


def pretty(messages: str) -> str:
    """The golden text of a `messages` string."""
    return json.dumps(json.loads(messages), indent=1, ensure_ascii=False) + "\n"


def outputs() -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """What the converter gives now: {name: messages string} and {file name: {reason, detail}}."""
    converted: dict[str, str] = {}
    rejects: dict[str, dict[str, str]] = {}
    for path, row in fixture_inputs():
        result = output_row_of(load(path, row=row, dataset=None))
        if "reject_reason" in result:
            rejects[reject_key(path, row)] = {"reason": result["reject_reason"], "detail": result["reject_detail"]}
        else:
            converted[result["instance_id"]] = result["messages"]
    return converted, rejects


def golden_files() -> dict[str, str]:
    """File name in tests/golden/ -> the text it should hold."""
    converted, rejects = outputs()
    files = {f"{name}.messages.json": pretty(messages) for name, messages in converted.items()}
    files[REJECTS_FILE] = json.dumps(rejects, indent=1, ensure_ascii=False) + "\n"
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report; exit 1 if any golden file would change")
    args = parser.parse_args(argv)
    changed = []
    for name, text in golden_files().items():
        path = GOLDEN_DIR / name
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        changed.append(name)
        if not args.check:
            GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    verb = "would change" if args.check else "rewritten"
    print(f"{len(changed)} golden file(s) {verb}: {', '.join(changed) or '-'}")
    if changed and not args.check:
        print("Now read `git diff tests/golden/` and check it against ../shared/spec/conversion.md.")
    return 1 if changed and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
