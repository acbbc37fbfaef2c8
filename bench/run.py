#!/usr/bin/env python3
"""Benchmark: the whole dbt build against the copy floor and a naive converter, at N and 2N bytes.

For each size (N, then 2N; default N = 2e9 bytes of JSON Lines) on the same generated input
(bench/generate.py, cached under --data-dir):

  a. copy_floor  bench/copy_floor.py: DuckDB reads the sources, writes their 8 columns as zstd Parquet
  b. naive       bench/naive.py: straightforward streaming pure-Python converter (stdlib json, 1 process)
  c. dbt_build   `dbt build` of this project on that input: conversion, data tests and both exports.
                 An untimed `dbt parse` (same vars, same target path) runs first, so the timed build
                 starts from dbt's partial-parse state, as every build after a user's first one does;
                 its seconds are reported as parse_seconds (~10 s here, independent of the data size).
                 The build checks the rows against a 500-task benchmark (bench/generate.py
                 write_benchmark; the `benchmark` var, docs/flags.md): the overlap check's own models
                 (OVERLAP_NODES) are timed from dbt's run_results, and their share of the build's time
                 is a target

Each runs as a subprocess, inputs already in the page cache (read once before the first step). Measured:
wall time; peak memory of the whole process tree (dbt's conversion workers included), by polling
/proc every --poll seconds: the sum of VmRSS over the tree (reported, and used for the targets), the sum
of PSS (shared pages counted once; every 5th poll, as it costs more to read), and the largest
single-process high-water mark (VmHWM / wait4).
Throughput is source bytes / 1e6 / seconds (MB/s) and source rows / seconds.

Prints a table, the ratios c/a and c/b, growth from N to 2N and PASS/FAIL per target; writes it all
to --out (JSON). Targets (spec: the issue "Scale and speed"), judged at N, meant for N ~ 2e9 (at
small N, dbt's fixed start-up time dominates and the ratios say little):
  build >= 0.5x the copy floor's throughput; build >= 1.0x the naive converter's;
  build peak RSS <= 2 GiB at every size; growing < 10% from N to 2N; time 2N/N <= 2.2 (linear or better);
  the benchmark-overlap check < 20% of the build's time.

--profile instead runs the project's conversion (sera_rectify.parts.build_parts, workers=1) of a
small slice under cProfile and prints the top functions: where the time goes.

Usage (`make bench` / `make bench-profile` set PYTHONPATH; bench/generate.py imports the row generator
sera_testkit.synthetic from tests/support/, which is not part of the installed package):
       PYTHONPATH=tests/support python bench/run.py [--bytes 2e9] [--scales 1,2] [--out bench/results/latest.json] [--strict]
       PYTHONPATH=tests/support python bench/run.py --bytes 1e8            # a smoke run
       PYTHONPATH=tests/support python bench/run.py --profile [--profile-rows 40]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))  # for `import generate` when this file is loaded by path (tests), not run as a script

import generate  # noqa: E402

BIN = Path(sys.executable).parent
STEPS = ("copy_floor", "naive", "dbt_build")
GIB = 1024**3
MIB = 1024**2
TARGETS = {
    "build_vs_copy_floor": 0.5,
    "build_vs_naive": 1.0,
    "build_peak_rss_bytes": 2 * GIB,
    "build_rss_growth": 0.10,
    "build_time_ratio_2n_over_n": 2.2,
    "bench_seconds": 600,
    "overlap_share_of_build": 0.20,
}
# the models of the benchmark-overlap check (docs/flags.md): loading the benchmark, its n-grams, the match
OVERLAP_NODES = ("stg_benchmark__instances", "int_benchmark_overlaps")
# the other flag models: the flags of every row, and the index the marts look them up in
FLAG_NODES = ("int_trajectories_flagged", "int_trajectory_flags_indexed")
MIN_CONVERTED_SHARE = 0.95


# ---------------------------------------------------------------------------------------------
# memory of a process tree


def _children_of(pid: int) -> list[int]:
    """Direct children of a process, from /proc/PID/task/*/children (each thread's own children;
    reading a few small files, not every process's stat, keeps the poller's cost out of the timings)."""
    children: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return children
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children", "rb") as handle:
                children.extend(int(child) for child in handle.read().split())
        except OSError:
            continue
    return children


def _status_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) in KiB; zeros for a zombie or a process that is gone."""
    rss = hwm = 0
    try:
        with open(f"/proc/{pid}/status", "rb") as handle:
            for line in handle:
                if line.startswith(b"VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith(b"VmHWM:"):
                    hwm = int(line.split()[1])
    except OSError:
        pass
    return rss, hwm


def _pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
            for line in handle:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


PSS_EVERY = 5


class TreeMonitor:
    """Polls the memory of a process and all its descendants until stopped."""

    def __init__(self, pid: int, interval: float) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_rss = self.peak_pss = 0  # bytes, sums over the tree at one poll
        self.hwm: dict[int, int] = {}  # pid -> VmHWM bytes
        self.max_processes = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeMonitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def tree(self) -> list[int]:
        pids, stack = [self.pid], [self.pid]
        while stack:
            for child in _children_of(stack.pop()):
                pids.append(child)
                stack.append(child)
        return pids

    def sample(self) -> None:
        # PSS (smaps_rollup: the kernel walks the page tables) only every PSS_EVERY-th poll: at every
        # poll it took a few percent of a core from the measured run
        with_pss = self.samples % PSS_EVERY == 0
        rss = pss = alive = 0
        for pid in self.tree():
            pid_rss, pid_hwm = _status_kib(pid)
            if not pid_rss:
                continue
            alive += 1
            rss += pid_rss * 1024
            pss += _pss_kib(pid) * 1024 if with_pss else 0
            self.hwm[pid] = max(self.hwm.get(pid, 0), pid_hwm * 1024)
        self.peak_rss = max(self.peak_rss, rss)
        self.peak_pss = max(self.peak_pss, pss)
        self.max_processes = max(self.max_processes, alive)
        self.samples += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)


# ---------------------------------------------------------------------------------------------
# running one step


def last_json_line(path: Path) -> dict | None:
    """The last stdout line that is a JSON object (the scripts' summary), if any."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                return None
    return None


def tail(path: Path, n: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def run_step(name: str, command: list[str], workdir: Path, *, env: dict | None = None, cwd: Path = REPO, poll: float = 0.2) -> dict:
    """Run a command with stdout/stderr to files, timing it and polling its process tree's memory."""
    stdout, stderr = workdir / f"{name}.stdout", workdir / f"{name}.stderr"
    load_before = os.getloadavg()[0]
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=cwd)
        with TreeMonitor(process.pid, poll) as monitor:
            _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    result = {
        "command": command,
        "returncode": process.returncode,
        "seconds": seconds,
        # user + system CPU of the process and every descendant it waited for: less sensitive than wall
        # time to other load on the machine; cpu_seconds / seconds is the parallelism achieved
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_rss_bytes": monitor.peak_rss,
        "peak_pss_bytes": monitor.peak_pss,
        "max_process_hwm_bytes": max([usage.ru_maxrss * 1024, *monitor.hwm.values()]),
        "processes": monitor.max_processes,
        "memory_samples": monitor.samples,
        "load_1m_before": round(load_before, 2),
        "summary": last_json_line(stdout),
    }
    if process.returncode != 0:
        result["error_tail"] = tail(stdout) + "\n" + tail(stderr)
    return result


def warm_page_cache(files: list[Path]) -> float:
    """Read the inputs once so every step starts from the same (cached) state; returns seconds."""
    started = time.perf_counter()
    for path in files:
        with open(path, "rb", buffering=0) as handle:
            while handle.read(16 * MIB):
                pass
    return time.perf_counter() - started


def dbt_details(db: Path, target: Path) -> dict:
    """Rows as the build counted them (source_reconciliation, the export manifest) and per-node times."""
    details: dict = {}
    try:
        import duckdb

        with duckdb.connect(str(db), read_only=True) as connection:
            read, out, rejected = connection.execute(
                "select sum(rows_read), sum(rows_out), sum(rows_rejected) from source_reconciliation"
            ).fetchone()
            details.update(rows_read=int(read), rows_out=int(out), rows_rejected=int(rejected))
            details["export_rows"] = connection.execute("select n_rows from sera_rectified_export").fetchone()[0]
            details["rejects"] = dict(
                connection.execute("select reason, count(*) from sera_rectified_rejects group by 1 order by 1").fetchall()
            )
    except Exception as err:  # the numbers are a report, not the measurement: keep going
        details["db_error"] = f"{type(err).__name__}: {err}"
    try:
        run_results = json.loads((target / "run_results.json").read_text())
        results = run_results["results"]
        details["dbt_elapsed_seconds"] = round(run_results["elapsed_time"], 3)
        nodes = sorted(
            ({"node": r["unique_id"], "status": r["status"], "seconds": round(r["execution_time"], 3)} for r in results),
            key=lambda n: -n["seconds"],
        )
        details["node_seconds_total"] = round(sum(n["seconds"] for n in nodes), 3)
        by_kind: dict[str, float] = defaultdict(float)
        for node in nodes:
            by_kind[node["node"].split(".")[0]] += node["seconds"]
        details["node_seconds_by_kind"] = {kind: round(s, 3) for kind, s in sorted(by_kind.items())}
        details["slowest_nodes"] = nodes[:12]
        seconds_of = {n["node"].split(".")[-1]: n["seconds"] for n in nodes if n["node"].startswith("model.")}
        details["overlap_check_seconds"] = round(sum(seconds_of.get(name, 0.0) for name in OVERLAP_NODES), 3)
        details["other_flag_seconds"] = round(sum(seconds_of.get(name, 0.0) for name in FLAG_NODES), 3)
        details["failed_nodes"] = [n["node"] for n in nodes if n["status"] not in ("success", "pass")]
    except (OSError, ValueError, KeyError) as err:
        details["run_results_error"] = f"{type(err).__name__}: {err}"
    return details


def measure_size(
    label: str, sources: Path, manifest: dict, workdir: Path, steps: tuple[str, ...], poll: float, dbt_args: list[str], benchmark: Path
) -> dict:
    """Run the steps on one generated input (the build with `benchmark` as its benchmark var); every output
    is removed after its step."""
    files = [sources / entry["file"] for entry in manifest["datasets"].values()]
    source_bytes, source_rows = manifest["total_bytes"], manifest["total_rows"]
    size = {
        "label": label,
        "sources_dir": str(sources),
        "source_bytes": source_bytes,
        "source_rows": source_rows,
        "generate_seconds": round(manifest["seconds"], 3),
        "generate_cached": manifest["cached"],
        "warm_cache_seconds": round(warm_page_cache(files), 3),
        "steps": {},
    }
    python = sys.executable
    for step in steps:
        out = workdir / step
        out.mkdir(parents=True, exist_ok=True)
        print(f"bench: {label}: {step} ...", file=sys.stderr, flush=True)
        if step == "copy_floor":
            result = run_step(
                step, [python, str(BENCH / "copy_floor.py"), "--sources", str(sources), "--out", str(out / "copy.parquet")], out, poll=poll
            )
            output = out / "copy.parquet"
        elif step == "naive":
            result = run_step(
                step, [python, str(BENCH / "naive.py"), "--sources", str(sources), "--out", str(out / "naive.parquet")], out, poll=poll
            )
            output = out / "naive.parquet"
        else:
            output = out / "sera_rectified.parquet"
            db, target = out / "sera.duckdb", out / "target"
            env = dict(os.environ, SERA_DB=str(db), SERA_TEMP_DIR=str(out / "spill"), DBT_PROFILES_DIR=str(REPO))
            dbt_vars = json.dumps({"sources_dir": str(sources), "export_path": str(output), "benchmark": str(benchmark)})
            common = ["--vars", dbt_vars, "--target-path", str(target), "--log-path", str(out / "logs")]
            started = time.perf_counter()
            parse = subprocess.run([str(BIN / "dbt"), "parse", *common], env=env, cwd=REPO, capture_output=True, text=True)
            parse_seconds = time.perf_counter() - started
            result = run_step(step, [str(BIN / "dbt"), "build", *common, *dbt_args], out, env=env, poll=poll)
            result["parse_seconds"] = round(parse_seconds, 3) if parse.returncode == 0 else None
            result["build"] = dbt_details(db, target)
            result["overlap_share_of_build"] = result["build"].get("overlap_check_seconds", 0.0) / result["seconds"]
            result["db_bytes"] = db.stat().st_size if db.exists() else None
            parts = db.with_name(db.stem + "_converted")
            result["converted_parts_bytes"] = sum(f.stat().st_size for f in parts.glob("*.parquet")) if parts.is_dir() else None
        result["output_bytes"] = output.stat().st_size if output.exists() else None
        result["mb_per_s"] = source_bytes / 1e6 / result["seconds"]
        result["rows_per_s"] = source_rows / result["seconds"]
        size["steps"][step] = result
        status = "ok" if result["returncode"] == 0 else f"FAILED (exit {result['returncode']})"
        print(
            f"bench: {label}: {step}: {result['seconds']:.1f} s, {result['peak_rss_bytes'] / MIB:.0f} MiB, {status}",
            file=sys.stderr,
            flush=True,
        )
        if result["returncode"] != 0:
            print(result.get("error_tail", ""), file=sys.stderr)
        shutil.rmtree(out, ignore_errors=True)
    size["ratios"] = ratios(size["steps"])
    size["checks"] = checks(size)
    return size


def ratios(steps: dict) -> dict:
    """Throughput of the build over the copy floor's (c/a) and over the naive converter's (c/b)."""

    def ok(name: str) -> bool:
        return name in steps and steps[name]["returncode"] == 0

    found = {}
    if ok("dbt_build") and ok("copy_floor"):
        found["build_vs_copy_floor"] = steps["dbt_build"]["mb_per_s"] / steps["copy_floor"]["mb_per_s"]
    if ok("dbt_build") and ok("naive"):
        found["build_vs_naive"] = steps["dbt_build"]["mb_per_s"] / steps["naive"]["mb_per_s"]
    return found


def checks(size: dict) -> dict:
    """Sanity of one size: the generated rows convert, and the naive converter agrees on the counts."""
    steps, found = size["steps"], {}
    build = steps.get("dbt_build", {}).get("build", {})
    if "rows_out" in build:
        found["build_rows_read_equals_source_rows"] = build["rows_read"] == size["source_rows"]
        found["build_converted_share"] = build["rows_out"] / max(1, build["rows_read"])
        found["build_converted_share_ok"] = found["build_converted_share"] >= MIN_CONVERTED_SHARE
    naive = (steps.get("naive") or {}).get("summary") or {}
    if "rows_out" in naive and "rows_out" in build:
        found["naive_rows_out_equals_build"] = naive["rows_out"] == build["rows_out"] == build.get("export_rows")
    return found


# ---------------------------------------------------------------------------------------------
# targets and the report


def growth(sizes: list[dict]) -> dict:
    """How each step's time and memory grow from the first size (N) to the second (2N)."""
    if len(sizes) < 2:
        return {}
    first, second = sizes[0]["steps"], sizes[1]["steps"]
    found = {}
    for step in first:
        if step in second and first[step]["returncode"] == 0 and second[step]["returncode"] == 0:
            found[step] = {
                "time_ratio": second[step]["seconds"] / first[step]["seconds"],
                "rss_growth": second[step]["peak_rss_bytes"] / max(1, first[step]["peak_rss_bytes"]) - 1,
                "bytes_ratio": sizes[1]["source_bytes"] / sizes[0]["source_bytes"],
            }
    return found


def target_result(name: str, description: str, value: float | None, threshold: float, passed: bool | None, unit: str = "") -> dict:
    """One target's row of the report: PASS / FAIL, or n/a when it was not measured (also bench/tokens.py's)."""
    return {
        "target": name,
        "description": description,
        "value": value,
        "unit": unit,
        "threshold": threshold,
        "result": "n/a" if passed is None else ("PASS" if passed else "FAIL"),
    }


def evaluate(sizes: list[dict], grown: dict, total_seconds: float) -> list[dict]:
    """PASS / FAIL (or n/a) per target."""
    base = sizes[0]
    build_runs = [s["steps"]["dbt_build"] for s in sizes if "dbt_build" in s["steps"]]
    targets = []

    def add(name: str, description: str, value: float | None, passed: bool | None, unit: str = "") -> None:
        targets.append(target_result(name, description, value, TARGETS[name], passed, unit))

    for name, what in (("build_vs_copy_floor", "copy floor"), ("build_vs_naive", "naive converter")):
        value = base["ratios"].get(name)
        add(name, f"build throughput >= {TARGETS[name]}x the {what}'s at N", value, None if value is None else value >= TARGETS[name], "x")
    peak = max((r["peak_rss_bytes"] for r in build_runs if r["returncode"] == 0), default=None)
    add(
        "build_peak_rss_bytes",
        "build peak RSS (process tree) <= 2 GiB at every size",
        peak,
        None if peak is None else peak <= TARGETS["build_peak_rss_bytes"],
        "bytes",
    )
    build_growth = grown.get("dbt_build")
    rss = build_growth["rss_growth"] if build_growth else None
    add("build_rss_growth", "build peak RSS grows < 10% from N to 2N", rss, None if rss is None else rss < TARGETS["build_rss_growth"])
    ratio = build_growth["time_ratio"] if build_growth else None
    add(
        "build_time_ratio_2n_over_n",
        "build time 2N/N <= 2.2 (linear or better)",
        ratio,
        None if ratio is None else ratio <= TARGETS["build_time_ratio_2n_over_n"],
        "x",
    )
    share = build_runs[0]["overlap_share_of_build"] if build_runs and build_runs[0]["returncode"] == 0 else None
    add(
        "overlap_share_of_build",
        "benchmark-overlap check < 20% of the build's time at N",
        share,
        None if share is None else share < TARGETS["overlap_share_of_build"],
    )
    add(
        "bench_seconds",
        "the whole benchmark (generation included) < 10 minutes",
        total_seconds,
        total_seconds < TARGETS["bench_seconds"],
        "s",
    )
    return targets


def print_report(report: dict) -> None:
    line = (
        f"{'size':>10} {'step':<11} {'seconds':>8} {'MB/s':>8} {'rows/s':>8} {'peak RSS MiB':>13} {'PSS MiB':>8} "
        f"{'CPU s':>7} {'procs':>5} {'load':>5} {'status':>6}"
    )
    print(line)
    print("-" * len(line))
    for size in report["sizes"]:
        tag = f"{size['source_bytes'] / 1e6:.0f} MB"
        for step, r in size["steps"].items():
            status = "ok" if r["returncode"] == 0 else f"exit {r['returncode']}"
            print(
                f"{tag:>10} {step:<11} {r['seconds']:8.1f} {r['mb_per_s']:8.1f} {r['rows_per_s']:8.1f} "
                f"{r['peak_rss_bytes'] / MIB:13.0f} {r['peak_pss_bytes'] / MIB:8.0f} {r['cpu_seconds']:7.1f} "
                f"{r['processes']:5d} {r['load_1m_before']:5.1f} {status:>6}"
            )
        parts = [
            f"{name.replace('build_vs_', 'c/').replace('copy_floor', 'a (copy floor)').replace('naive', 'b (naive)')} = {v:.2f}x"
            for name, v in size["ratios"].items()
        ]
        print(f"{tag:>10} {size['source_rows']} rows; " + "; ".join(parts))
        build = size["steps"].get("dbt_build", {}).get("build", {})
        if "rows_out" in build:
            overhead = size["steps"]["dbt_build"]["seconds"] - build.get("dbt_elapsed_seconds", 0)
            print(
                f"{'':>10} build: {build['rows_out']} converted, {build['rows_rejected']} rejected; "
                f"node seconds {build.get('node_seconds_by_kind')} (2 at a time); dbt start-up ~{overhead:.0f} s"
            )
            if "overlap_check_seconds" in build:
                print(
                    f"{'':>10} benchmark-overlap check: {build['overlap_check_seconds']:.1f} s of the build's "
                    f"{size['steps']['dbt_build']['seconds']:.1f} s ({size['steps']['dbt_build']['overlap_share_of_build']:.1%}); "
                    f"other flag models {build['other_flag_seconds']:.1f} s"
                )
    for step, g in report["growth"].items():
        print(f"N -> 2N {step:<11} time x{g['time_ratio']:.2f}, peak RSS {g['rss_growth']:+.1%}")
    print()
    for t in report["targets"]:
        value = t["value"]
        shown = (
            "-"
            if value is None
            else (f"{value / MIB:.0f} MiB" if t["unit"] == "bytes" else f"{value:.2f}{t['unit']}" if t["unit"] != "" else f"{value:+.1%}")
        )
        print(f"{t['result']:>4}  {t['description']}: {shown}")
    print(
        "(CPU s: user+system seconds of the whole process tree; load: 1-minute load average before the step;\n"
        " with load above the core count, wall times are noisy and CPU seconds are the steadier figure)"
    )
    failed_checks = [f"{s['label']}: {k}" for s in report["sizes"] for k, v in s["checks"].items() if v is False]
    if failed_checks:
        print("CHECK FAILED: " + ", ".join(failed_checks))
    if report["sizes"][0]["source_bytes"] < 1e9:
        print(
            f"note: N = {report['sizes'][0]['source_bytes'] / 1e6:.0f} MB; the targets are meant for N ~ 2 GB "
            "(dbt's fixed start-up time weighs on small runs)"
        )


def machine() -> dict:
    meminfo = Path("/proc/meminfo").read_text().split("\n", 1)[0].split()
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--", "python", "models"], cwd=REPO, capture_output=True, text=True
            ).stdout.strip()
        )
    except OSError:
        commit, dirty = None, None
    import duckdb
    import pyarrow

    return {
        "cores": os.cpu_count(),
        "mem_total_bytes": int(meminfo[1]) * 1024,
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "pyarrow": pyarrow.__version__,
        "git_commit": commit,
        "product_code_modified": dirty,
        "platform": platform.platform(),
        "env": {k: os.environ[k] for k in ("SERA_THREADS", "SERA_MEMORY_LIMIT") if k in os.environ},
    }


# ---------------------------------------------------------------------------------------------
# the profile


def profile(rows: int, seed: int, pool: int, top: int) -> dict:
    """cProfile of the project's conversion (build_parts, workers=1) over `rows` rows of one file."""
    from sera_rectify.parts import build_parts

    dataset = "Sera-4.5A-Full-T2"
    with tempfile.TemporaryDirectory(prefix="sera-bench-profile-") as folder:
        path = Path(folder) / generate.dataset_file(dataset)
        n_rows, n_bytes = generate.write_dataset(path, dataset, seed, pool, None, rows)
        # a row of stg_sera__source_files joined with stg_sera__datasets, as the conversion model passes it
        file_rows = [
            {
                "source_dataset": dataset,
                "source_file": generate.dataset_file(dataset),
                "file_path": str(path),
                "file_format": "jsonl",
                "dataset_order": 2,
                "teacher": "GLM-4.5-Air",
                "scale": "full",
                "rollout": "T2",
                "source_format": "sera",
                "file_bytes": path.stat().st_size,
            }
        ]
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        parts = build_parts(file_rows, str(Path(folder) / "parts"), workers=1)
        converted = sum(parts.column("n_rows").to_pylist())
        profiler.disable()
        seconds = time.perf_counter() - started
    texts = {}
    for key in ("cumulative", "tottime"):
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).strip_dirs().sort_stats(key).print_stats(top)
        texts[key] = stream.getvalue()
    return {
        "rows": n_rows,
        "bytes": n_bytes,
        "rows_converted": converted,
        "seconds_under_profiler": seconds,
        "mb_per_s_under_profiler": n_bytes / 1e6 / seconds,
        "top_cumulative": texts["cumulative"],
        "top_tottime": texts["tottime"],
    }


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1]
    )
    parser.add_argument("--bytes", type=float, default=2e9, help="N: bytes of JSON Lines at the base size (default 2e9)")
    parser.add_argument("--scales", default="1,2", help="multiples of N to run (default '1,2'; '1' for one size)")
    parser.add_argument("--steps", default=",".join(STEPS), help=f"subset of {','.join(STEPS)}")
    parser.add_argument("--seed", type=int, default=generate.DEFAULT_SEED)
    parser.add_argument("--pool", type=int, default=generate.DEFAULT_POOL, help="distinct rows per dataset (bench/generate.py)")
    parser.add_argument("--data-dir", type=Path, default=BENCH / "data", help="where generated inputs are cached")
    parser.add_argument("--work-dir", type=Path, default=None, help="parent of the temporary outputs (default: system temp)")
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "latest.json")
    parser.add_argument("--poll", type=float, default=0.2, help="seconds between memory polls")
    parser.add_argument("--dbt-args", default="", help="extra arguments for dbt build, e.g. '--exclude some_model'")
    parser.add_argument("--strict", action="store_true", help="exit 3 when a target or check fails")
    parser.add_argument("--profile", action="store_true", help="only profile the project's conversion of a small slice")
    parser.add_argument("--profile-rows", type=int, default=40)
    parser.add_argument("--profile-top", type=int, default=25)
    args = parser.parse_args(argv)

    if args.profile:
        result = profile(args.profile_rows, args.seed, args.pool, args.profile_top)
        print(
            f"build_parts(workers=1): {result['rows']} rows, {result['bytes'] / 1e6:.1f} MB in "
            f"{result['seconds_under_profiler']:.2f} s under cProfile ({result['mb_per_s_under_profiler']:.1f} MB/s)\n"
        )
        print(result["top_cumulative"])
        print(result["top_tottime"])
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"profile": result, "machine": machine()}, indent=2) + "\n")
        return 0

    started = time.perf_counter()
    steps = tuple(s for s in args.steps.split(",") if s)
    unknown = set(steps) - set(STEPS)
    if unknown:
        parser.error(f"unknown steps {sorted(unknown)}")
    scales = [float(s) for s in args.scales.split(",") if s]
    report = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "args": {k: str(v) for k, v in vars(args).items()},
        "sizes": [],
    }
    workdir = Path(tempfile.mkdtemp(prefix="sera-bench-", dir=args.work_dir))
    try:
        for scale in scales:
            target_bytes = args.bytes * scale
            dest = args.data_dir / f"bytes-{int(target_bytes)}-seed-{args.seed}-pool-{args.pool}"
            print(f"bench: generating {target_bytes / 1e6:.0f} MB into {dest} ...", file=sys.stderr, flush=True)
            manifest = generate.generate(dest, target_bytes=target_bytes, seed=args.seed, pool=args.pool, quiet=True)
            benchmark = generate.write_benchmark(dest, args.seed, args.pool)
            label = f"{scale:g}N"
            report["sizes"].append(
                measure_size(label, dest, manifest, workdir / label, steps, args.poll, shlex.split(args.dbt_args), benchmark)
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report["growth"] = growth(report["sizes"])
    report["total_seconds"] = time.perf_counter() - started
    report["targets"] = evaluate(report["sizes"], report["growth"], report["total_seconds"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print_report(report)
    print(f"\nwritten: {args.out} (total {report['total_seconds']:.0f} s)")
    failed_step = any(r["returncode"] != 0 for s in report["sizes"] for r in s["steps"].values())
    failed_target = any(t["result"] == "FAIL" for t in report["targets"]) or any(
        v is False for s in report["sizes"] for v in s["checks"].values()
    )
    if failed_step:
        return 1
    return 3 if args.strict and failed_target else 0


if __name__ == "__main__":
    sys.exit(main())
