"""`python -m sera_rectify <command>`: the entry points beside `dbt build` (spec/interface.md).

Each command lives in its own module, which provides `add_arguments(parser)` and `run(args) -> int`.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "convert": ("sera_rectify.convert_file", "convert one raw row, JSON Lines file or SWE-agent .traj and print the result"),
    "download": ("sera_rectify.download", "download the SERA source datasets from the Hugging Face Hub"),
    "card": ("sera_rectify.card", "write the Hugging Face dataset card (README.md) next to an export"),
    "upload": ("sera_rectify.upload", "publish an export folder (the files its dataset card names) to the Hugging Face Hub"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sera_rectify", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    modules = {}
    for name, (module_name, help_text) in COMMANDS.items():
        modules[name] = importlib.import_module(module_name)
        modules[name].add_arguments(commands.add_parser(name, help=help_text, description=help_text))
    args = parser.parse_args(argv)
    return modules[args.command].run(args)


if __name__ == "__main__":
    sys.exit(main())
