#!/usr/bin/env python3
"""Benchmark: what reading a source format other than SERA's costs a build (issue "Beyond SERA").

The same trajectories in every format: the generated SERA rows of N bytes (bench/generate.py, cached under
--data-dir) are rewritten, row by row, into each other format's layout (docs/formats.md), untimed:

  sera            the generated JSON Lines as they are (`messages` a JSON string)
  swe-agent       `messages` as a JSON list with `tool_calls`, the spec's tools as a `tools` column, `patch`
  openhands       the same, the final submit renamed `finish` (and in `tools`), the patch in `test_result.git_patch`
  swe-smith-xml   each call written as <function=NAME><parameter=P>...</parameter></function> in the assistant
                  text, outputs as user turns, the tools as the system prompt's function list, `patch`
  swe-agent-text  nebius rows: a `trajectory` of system/user/ai turns, each call as a fenced command (bash's
                  command; another tool's call as `name --key value ...`), `generated_patch`

Each format is then one `dbt build` of a `traj_dirs` dataset of that format (the SERA rows too, so every build
takes the same path), with an untimed `dbt parse` first, as bench/run.py does; --repeats rounds, each building
every format once (round robin: a shared machine's load drifts; median kept). Reported per format: build
seconds, the conversion's node seconds (int_conversion_parts), its rows/s and MB/s of its own source bytes,
and the ratios to sera on the same trajectories.

Usage (`make bench-formats` sets PYTHONPATH for sera_testkit, which is not installed):
       PYTHONPATH=tests/support python bench/formats.py [--bytes 3e8] [--out bench/results/formats.json]
       PYTHONPATH=tests/support python bench/formats.py --bytes 3e6 --repeats 1  # smoke
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))  # bench/run.py and bench/generate.py, also when this file is loaded by path

import generate  # noqa: E402
import run as bench  # noqa: E402
from sera_rectify.spec import tool_schemas  # noqa: E402
from tokens import node_seconds  # noqa: E402

REPO = BENCH.parent
FORMATS = ("sera", "swe-agent", "openhands", "swe-smith-xml", "swe-agent-text")
CONVERSION_NODE = "int_conversion_parts"


# ---------------------------------------------------------------------------------------------
# the same trajectories in each layout (pure functions of one SERA row)


def calls_of(message: dict) -> list[dict]:
    """The message's tool calls with their arguments as an object."""
    calls = []
    for call in message.get("tool_calls") or []:
        arguments = call["function"].get("arguments")
        arguments = json.loads(arguments) if isinstance(arguments, str) and arguments else (arguments or {})
        calls.append({"name": call["function"]["name"], "arguments": arguments})
    return calls


def as_swe_agent(row: dict) -> dict:
    return {
        "instance_id": row["instance_id"],
        "messages": json.loads(row["messages"]),
        "tools": tool_schemas(),
        "patch": row["rollout_patch"],
    }


def as_openhands(row: dict) -> dict:
    messages = json.loads(row["messages"])
    for message in messages:
        for call in message.get("tool_calls") or []:
            if call["function"]["name"] == "submit":
                call["function"]["name"] = "finish"
    tools = [json.loads(json.dumps(tool).replace('"name": "submit"', '"name": "finish"')) for tool in tool_schemas()]
    return {
        "instance_id": row["instance_id"],
        "messages": messages,
        "tools": tools,
        "resolved": True,
        "test_result": {"git_patch": row["rollout_patch"]},
    }


def function_list(tools: list[dict]) -> str:
    """The tools as a SWE-smith system prompt lists them."""
    blocks = []
    for number, tool in enumerate(tools, 1):
        function = tool["function"]
        parameters = function.get("parameters", {}).get("properties", {})
        required = function.get("parameters", {}).get("required", [])
        lines = [f"---- BEGIN FUNCTION #{number}: {function['name']} ----", f"Description: {function.get('description', '')}"]
        if parameters:
            lines.append("\nParameters:")
            for index, (name, spec) in enumerate(parameters.items(), 1):
                kind = "required" if name in required else "optional"
                lines.append(f"  ({index}) {name} ({spec.get('type', 'string')}, {kind}): {spec.get('description', '')}")
        else:
            lines.append("No parameters are required for this function.")
        lines.append(f"---- END FUNCTION #{number} ----")
        blocks.append("\n".join(lines))
    return "You have access to the following functions:\n\n" + "\n\n".join(blocks)


def xml_call(call: dict) -> str:
    parameters = []
    for name, value in call["arguments"].items():
        text = value if isinstance(value, str) else json.dumps(value)
        parameters.append(f"<parameter={name}>\n{text}\n</parameter>" if "\n" in text else f"<parameter={name}>{text}</parameter>")
    return f"<function={call['name']}>\n" + "\n".join(parameters) + ("\n" if parameters else "") + "</function>"


def as_swe_smith_xml(row: dict) -> dict:
    messages = []
    for message in json.loads(row["messages"]):
        content = message.get("content") or ""
        if message["role"] == "system":
            messages.append({"role": "system", "content": content + "\n\n" + function_list(tool_schemas())})
        elif message["role"] == "assistant":
            calls = calls_of(message)
            messages.append({"role": "assistant", "content": content + ("\n\n" + xml_call(calls[0]) if calls else "")})
        else:
            messages.append({"role": "user", "content": content})
    return {"instance_id": row["instance_id"], "messages": messages, "model": "GLM-4.6", "patch": row["rollout_patch"]}


def command_of(call: dict) -> str:
    if call["name"] == "bash":
        return str(call["arguments"].get("command", ""))
    return " ".join([call["name"], *(f"--{name} {value}" for name, value in call["arguments"].items())])


def as_swe_agent_text(row: dict) -> dict:
    turns = []
    for message in json.loads(row["messages"]):
        content = message.get("content") or ""
        if message["role"] == "system":
            turns.append({"role": "system", "text": None, "system_prompt": content, "mask": False})
        elif message["role"] == "assistant":
            calls = calls_of(message)
            text = content + (f"\n```\n{command_of(calls[0])}\n```" if calls else "")
            turns.append({"role": "ai", "text": text, "system_prompt": None, "mask": True})
        else:
            turns.append({"role": "user", "text": content, "system_prompt": None, "mask": False})
    return {
        "instance_id": row["instance_id"],
        "trajectory": turns,
        "model_name": "GLM-4.6",
        "target": True,
        "exit_status": "submitted",
        "generated_patch": row["rollout_patch"],
    }


LAYOUTS: dict[str, Callable[[dict], dict]] = {
    "swe-agent": as_swe_agent,
    "openhands": as_openhands,
    "swe-smith-xml": as_swe_smith_xml,
    "swe-agent-text": as_swe_agent_text,
}


def sera_rows(files: list[Path]) -> Iterator[dict]:
    for path in files:
        with open(path, "rb") as handle:
            for line in handle:
                if line.strip():
                    yield json.loads(line)


def write_layouts(files: list[Path], dest: Path) -> dict[str, Path]:
    """One folder per format holding the generated trajectories in its layout (SERA's: links to the files)."""
    folders = {source_format: dest / source_format for source_format in FORMATS}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    for path in files:
        link = folders["sera"] / path.name
        if not link.exists():
            link.symlink_to(path)
    handles = {name: open(folders[name] / "rows.jsonl", "w", encoding="utf-8") for name in LAYOUTS}
    try:
        for row in sera_rows(files):
            for name, layout in LAYOUTS.items():
                handles[name].write(json.dumps(layout(row), ensure_ascii=False) + "\n")
    finally:
        for handle in handles.values():
            handle.close()
    return folders


# ---------------------------------------------------------------------------------------------
# measuring


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.iterdir())


def dbt_step(source_format: str, folder: Path, out: Path, poll: float) -> dict:
    """`dbt parse` (untimed) then the timed `dbt build` of one traj_dirs dataset of that format."""
    db, target = out / "sera.duckdb", out / "target"
    env = dict(os.environ, SERA_DB=str(db), SERA_TEMP_DIR=str(out / "spill"), DBT_PROFILES_DIR=str(REPO))
    dataset = {"path": str(folder), "format": source_format, "teacher": "GLM-4.6", "scale": "lite", "rollout": "T1"}
    dbt_vars = json.dumps({"datasets": [], "traj_dirs": {"bench": dataset}, "export_path": str(out / "output" / "rows.parquet")})
    common = ["--vars", dbt_vars, "--target-path", str(target), "--log-path", str(out / "logs")]
    subprocess.run([str(bench.BIN / "dbt"), "parse", *common], env=env, cwd=REPO, capture_output=True, text=True)
    result = bench.run_step(source_format, [str(bench.BIN / "dbt"), "build", *common], out, env=env, poll=poll)
    details = bench.dbt_details(db, target)
    return {
        "seconds": round(result["seconds"], 3),
        "cpu_seconds": round(result["cpu_seconds"], 3),
        "peak_rss_bytes": result["peak_rss_bytes"],
        "returncode": result["returncode"],
        "conversion_seconds": node_seconds(target).get(CONVERSION_NODE),
        "rows_out": details.get("rows_out"),
        "rows_rejected": details.get("rows_rejected"),
        "error_tail": result.get("error_tail"),
    }


def measure(args: argparse.Namespace) -> dict:
    dest = args.data_dir / f"bytes-{int(args.bytes)}-seed-{args.seed}-pool-{args.pool}"
    print(f"bench-formats: generating {args.bytes / 1e6:.0f} MB into {dest} ...", file=sys.stderr, flush=True)
    manifest = generate.generate(dest, target_bytes=args.bytes, seed=args.seed, pool=args.pool, quiet=True)
    files = [dest / entry["file"] for entry in manifest["datasets"].values()]
    workdir = Path(tempfile.mkdtemp(prefix="sera-bench-formats-", dir=args.work_dir))
    started = time.perf_counter()
    folders = write_layouts(files, workdir / "sources")
    report = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": bench.machine(),
        "args": {k: str(v) for k, v in vars(args).items()},
        "source_rows": manifest["total_rows"],
        "rewrite_seconds": round(time.perf_counter() - started, 3),
        "formats": {},
    }
    # round robin (every format once, then again): the load of a shared machine drifts over minutes, and
    # running one format's repeats back to back would hand that drift to the ratios
    runs: dict[str, list[dict]] = {source_format: [] for source_format in FORMATS}
    for repeat in range(max(args.repeats, 1)):
        for source_format in FORMATS:
            print(f"bench-formats: {source_format} ({repeat + 1}/{args.repeats}) ...", file=sys.stderr, flush=True)
            out = workdir / f"{source_format}-{repeat}"
            out.mkdir(parents=True)
            runs[source_format].append(dbt_step(source_format, folders[source_format], out, args.poll))
    for source_format, results in runs.items():
        median = sorted(results, key=lambda run: run["seconds"])[len(results) // 2]
        median["source_bytes"] = folder_bytes(folders[source_format]) if source_format != "sera" else manifest["total_bytes"]
        median["runs_seconds"] = [run["seconds"] for run in results]
        median["runs_conversion_seconds"] = [run["conversion_seconds"] for run in results]
        report["formats"][source_format] = median
    report["ratios"] = ratios(report["formats"], report["source_rows"])
    return report


def ratios(results: dict[str, dict], rows: int) -> dict[str, dict]:
    """Per format: rows/s and MB/s of the conversion, and its build and conversion time over sera's."""
    base = results["sera"]
    table = {}
    for source_format, result in results.items():
        conversion = result.get("conversion_seconds")
        table[source_format] = {
            "conversion_rows_per_second": round(rows / conversion, 1) if conversion else None,
            "conversion_mb_per_second": round(result["source_bytes"] / 1e6 / conversion, 1) if conversion else None,
            "build_vs_sera": round(result["seconds"] / base["seconds"], 3),
            "conversion_vs_sera": round(conversion / base["conversion_seconds"], 3)
            if conversion and base.get("conversion_seconds")
            else None,
        }
    return table


def print_report(report: dict) -> None:
    print(f"\n{report['source_rows']:,} trajectories in each format; median of {report['args']['repeats']} build(s)\n")
    header = ("format", "source MB", "build s", "conv s", "rows/s", "MB/s", "build/sera", "conv/sera", "out", "rej")
    print(f"{header[0]:<16}" + "".join(f"{name:>11}" for name in header[1:]))
    for source_format, result in report["formats"].items():
        ratio = report["ratios"][source_format]
        cells = (
            f"{result['source_bytes'] / 1e6:.0f}",
            f"{result['seconds']:.1f}",
            f"{result['conversion_seconds'] or 0:.1f}",
            f"{ratio['conversion_rows_per_second'] or 0:.1f}",
            f"{ratio['conversion_mb_per_second'] or 0:.1f}",
            f"{ratio['build_vs_sera']:.2f}",
            f"{ratio['conversion_vs_sera'] or 0:.2f}",
            str(result["rows_out"] or 0),
            str(result["rows_rejected"] or 0),
        )
        print(f"{source_format:<16}" + "".join(f"{cell:>11}" for cell in cells))
        if result["returncode"]:
            print(f"  FAILED: {result['error_tail']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bytes", type=float, default=3e8, help="bytes of generated SERA JSON Lines (default 3e8)")
    parser.add_argument("--repeats", type=int, default=3, help="builds per format; the median is kept (default 3)")
    parser.add_argument("--seed", type=int, default=generate.DEFAULT_SEED)
    parser.add_argument("--pool", type=int, default=generate.DEFAULT_POOL)
    parser.add_argument("--data-dir", type=Path, default=BENCH / "data")
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument("--poll", type=float, default=0.2)
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "formats.json")
    args = parser.parse_args(argv)
    report = measure(args)
    print_report(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if all(result["returncode"] == 0 for result in report["formats"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
