#!/usr/bin/env python3
"""Benchmark: the conversion on Ray (`engine: ray`) against the fork pool (`engine: local`), issue 16.

On one generated input of N bytes (default N = 2e9; bench/generate.py, cached under --data-dir), each
step a `dbt build` in its own work folder with an untimed `dbt parse` first, timed with bench/run.py's
run_step (wall seconds, CPU seconds, peak memory of the process tree):

  local       engine local: forked worker processes, SERA_THREADS (default: every core)
  ray         engine ray without RAY_ADDRESS: the build starts a Ray of SERA_THREADS CPUs on loopback
  cluster_1   engine ray on Ray's local test cluster (ray.cluster_utils.Cluster, started here on
              loopback) of 1 node with 1 CPU, through RAY_ADDRESS
  cluster_2   the same with 2 nodes of 1 CPU each
  s3          engine local with sources, parts and exports on S3: the same input uploaded (untimed) to a
              moto S3 server on 127.0.0.1 (sera_testkit.s3, a thread of this process), the build reading
              and writing s3://sera-test/... through the AWS variables. moto is a Python server sharing the
              machine's cores with the build, so this step measures correctness at scale (same bytes,
              ranged reads of 32 MB byte ranges, multipart writes) more than S3 speed

The cluster steps give the time per GB against the number of nodes (on one machine: the nodes share its
cores, so this shows Ray's overhead per node, not a speed-up a real cluster would give). Reported: seconds
of the build and of the conversion node (int_conversion_parts), MB/s, s/GB of the conversion, and the
main export's sha256 (every step must give the local step's bytes).

Target (the issue): ray / local <= 1.25 in build seconds at N ~ 2e9.

Usage (`make bench-ray` sets PYTHONPATH for sera_testkit, which bench/generate.py imports):
       PYTHONPATH=tests/support python bench/engines.py [--bytes 2e9] [--steps local,ray,cluster_1,cluster_2] [--out bench/results/ray.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))  # bench/run.py and bench/generate.py, also when this file is loaded by path

import generate  # noqa: E402
import run as bench  # noqa: E402
from tokens import node_seconds  # noqa: E402

REPO = bench.REPO
STEPS = ("local", "ray", "cluster_1", "cluster_2", "s3")
# s3 only when asked for (--steps ...,s3): it needs the test extra's moto and its time is moto's
DEFAULT_STEPS = ("local", "ray", "cluster_1", "cluster_2")
CONVERSION_NODE = "int_conversion_parts"
TARGET_RAY_OVER_LOCAL = 1.25


@contextmanager
def local_cluster(nodes: int) -> Iterator[str]:
    """Ray's local test cluster of `nodes` nodes with 1 CPU each, on loopback, in a fresh temporary folder;
    yields its address."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # before ray is imported: loopback only
    temp = Path(tempfile.mkdtemp(prefix="sera-ray-bench-"))
    (temp / "ray").mkdir()
    os.environ["RAY_TMPDIR"] = str(temp)  # Cluster writes $RAY_TMPDIR/ray/ray_current_cluster
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        for _ in range(nodes - 1):
            cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        yield cluster.address
    finally:
        cluster.shutdown()
        del os.environ["RAY_TMPDIR"]
        shutil.rmtree(temp, ignore_errors=True)


def dbt_step(
    step: str,
    out: Path,
    sources: Path | str,
    engine: str,
    extra_env: dict,
    poll: float,
    *,
    object_vars: dict | None = None,
    read_export: Callable[[str], bytes] | None = None,
) -> dict:
    """`dbt parse` (untimed) then the timed `dbt build` with that engine, in the work folder `out`.
    object_vars: sources_dir / converted_dir / export_path on object storage, with read_export(uri) -> bytes."""
    db, target = out / "sera.duckdb", out / "target"
    env = dict(os.environ, SERA_DB=str(db), SERA_TEMP_DIR=str(out / "spill"), DBT_PROFILES_DIR=str(REPO), **extra_env)
    export = out / "output" / "sera_rectified.parquet"
    variables = {"sources_dir": str(sources), "export_path": str(export), "engine": engine, **(object_vars or {})}
    dbt_vars = json.dumps(variables)
    common = ["--vars", dbt_vars, "--target-path", str(target), "--log-path", str(out / "logs")]
    subprocess.run([str(bench.BIN / "dbt"), "parse", *common], env=env, cwd=REPO, capture_output=True, text=True)
    result = bench.run_step(step, [str(bench.BIN / "dbt"), "build", *common], out, env=env, poll=poll)
    if object_vars:
        exported = read_export(variables["export_path"]) if result["returncode"] == 0 else None
    else:
        exported = export.read_bytes() if export.exists() else None
    return {
        "engine": engine,
        "ray_address": extra_env.get("RAY_ADDRESS"),
        "returncode": result["returncode"],
        "seconds": round(result["seconds"], 3),
        "cpu_seconds": round(result["cpu_seconds"], 3),
        "peak_rss_bytes": result["peak_rss_bytes"],
        "load_1m_before": result["load_1m_before"],
        "conversion_seconds": node_seconds(target).get(CONVERSION_NODE),
        "export_sha256": hashlib.sha256(exported).hexdigest() if exported is not None else None,
        "error_tail": result.get("error_tail"),
    }


def s3_step(out: Path, sources: Path, poll: float) -> dict:
    """The `s3` step: a moto S3 server on 127.0.0.1 holding the input (upload untimed), then the build with
    sources, parts and exports there (engine local)."""
    from sera_testkit.s3 import BUCKET, local_s3, s3_client, s3_environment, upload_folder

    with local_s3() as endpoint:
        started = time.perf_counter()
        upload_folder(endpoint, sources, f"s3://{BUCKET}/sources")
        upload_seconds = time.perf_counter() - started
        client = s3_client(endpoint)

        def read_export(uri: str) -> bytes:
            with client.open_input_file(uri.removeprefix("s3://")) as handle:
                return handle.read()

        object_vars = {
            "sources_dir": f"s3://{BUCKET}/sources",
            "converted_dir": f"s3://{BUCKET}/converted",
            "export_path": f"s3://{BUCKET}/out/sera_rectified.parquet",
        }
        result = dbt_step("s3", out, sources, "local", s3_environment(endpoint), poll, object_vars=object_vars, read_export=read_export)
    result["upload_seconds"] = round(upload_seconds, 3)
    result["note"] = "moto S3 server in the benchmark's process on the same 2 cores (not in peak_rss_bytes): bounds the speed"
    return result


def run_steps(steps: tuple[str, ...], sources: Path, workdir: Path, poll: float) -> dict[str, dict]:
    results = {}
    for step in steps:
        print(f"bench-ray: {step} ...", file=sys.stderr, flush=True)
        out = workdir / step
        out.mkdir(parents=True)
        if step == "s3":
            try:
                results[step] = s3_step(out, sources, poll)
            except Exception as err:  # the S3 test server itself failing: record it, keep the other steps
                results[step] = {"returncode": -1, "error_tail": repr(err)[-2000:]}
        elif step.startswith("cluster_"):
            with local_cluster(int(step.split("_")[1])) as address:
                results[step] = dbt_step(step, out, sources, "ray", {"RAY_ADDRESS": address}, poll)
        else:
            results[step] = dbt_step(step, out, sources, step, {}, poll)
    return results


def rates(results: dict[str, dict], source_bytes: int) -> None:
    """MB/s of the build, and seconds per GB of the conversion node, added to each step."""
    for result in results.values():
        if "seconds" not in result:  # the step did not run (s3: its test server failed)
            continue
        result["build_mb_per_s"] = round(source_bytes / 1e6 / result["seconds"], 2)
        conversion = result["conversion_seconds"]
        result["conversion_s_per_gb"] = round(conversion / (source_bytes / 1e9), 2) if conversion else None


def print_report(report: dict) -> None:
    print(f"{'step':<10} {'build s':>8} {'MB/s':>6} {'conv s':>7} {'conv s/GB':>9} {'CPU s':>7} {'load':>5} {'same bytes':>10}")
    local_sha = report["steps"].get("local", {}).get("export_sha256")
    for step, r in report["steps"].items():
        if "seconds" not in r:
            print(f"{step:<10} failed: {r.get('error_tail')}")
            continue
        same = "-" if local_sha is None else str(r["export_sha256"] == local_sha)
        print(
            f"{step:<10} {r['seconds']:8.1f} {r['build_mb_per_s']:6.1f} {r['conversion_seconds'] or 0:7.1f} "
            f"{r['conversion_s_per_gb'] or 0:9.1f} {r['cpu_seconds']:7.1f} {r['load_1m_before']:5.1f} {same:>10}"
        )
    ratio = report.get("ray_over_local")
    if ratio is not None:
        verdict = "PASS" if ratio <= TARGET_RAY_OVER_LOCAL else "FAIL"
        print(f"{verdict}  ray / local build seconds <= {TARGET_RAY_OVER_LOCAL}: {ratio:.2f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bytes", type=float, default=2e9, help="bytes of generated SERA JSON Lines (default 2e9)")
    parser.add_argument("--steps", default=",".join(DEFAULT_STEPS), help=f"subset of {','.join(STEPS)} (default: all but s3)")
    parser.add_argument("--seed", type=int, default=generate.DEFAULT_SEED)
    parser.add_argument("--pool", type=int, default=generate.DEFAULT_POOL)
    parser.add_argument("--data-dir", type=Path, default=BENCH / "data")
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument("--poll", type=float, default=0.2)
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "ray.json")
    args = parser.parse_args(argv)
    steps = tuple(step for step in args.steps.split(",") if step)
    if set(steps) - set(STEPS):
        parser.error(f"unknown steps {sorted(set(steps) - set(STEPS))}")
    dest = args.data_dir / f"bytes-{int(args.bytes)}-seed-{args.seed}-pool-{args.pool}"
    print(f"bench-ray: generating {args.bytes / 1e6:.0f} MB into {dest} ...", file=sys.stderr, flush=True)
    manifest = generate.generate(dest, target_bytes=args.bytes, seed=args.seed, pool=args.pool, quiet=True)
    bench.warm_page_cache([dest / entry["file"] for entry in manifest["datasets"].values()])
    workdir = Path(tempfile.mkdtemp(prefix="sera-bench-ray-", dir=args.work_dir))
    report = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": bench.machine(),
        "args": {k: str(v) for k, v in vars(args).items()},
        "source_bytes": manifest["total_bytes"],
        "source_rows": manifest["total_rows"],
    }
    try:
        report["steps"] = run_steps(steps, dest, workdir, args.poll)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    rates(report["steps"], manifest["total_bytes"])
    if {"local", "ray"} <= set(report["steps"]):
        report["ray_over_local"] = round(report["steps"]["ray"]["seconds"] / report["steps"]["local"]["seconds"], 3)
    print_report(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten: {args.out}")
    return 0 if all(r["returncode"] == 0 for r in report["steps"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
