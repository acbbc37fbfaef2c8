#!/usr/bin/env python3
"""Benchmark: what counting tokens costs a build (issue "Ready to train").

On one generated input of N bytes (default N = 5e8; bench/generate.py, cached under --data-dir), each
step as a subprocess, its time and the peak memory of its process tree measured with bench/run.py's
run_step:

  a. no_tokenizer      `dbt build` without a tokenizer
  b. tokenizer_first   `dbt build` with `tokenizer: <bench tokenizer>` and `max_tokens: 32768`, from an
                       empty token cache (a fresh `token_cache_dir`): every converted row is counted
  c. tokenizer_cached  the same with `max_tokens: 16384` and the cache b wrote: no row is counted again
  d. encode_batch      the tokenizer's own Rust `encode_batch` on the same texts: every row of b's
                       `sera_rectified_sft` rendered with `apply_chat_template(messages, tools=<spec tools>,
                       tokenize=False)` (untimed), then only `backend_tokenizer.encode_batch(texts)` timed
                       (all cores), --batch-rows rows at a time. Its summed lengths must equal b's
                       sum(n_tokens): both sides count the same texts, so the comparison is fair

Each dbt step has its own work folder (database, parts, target, logs, export) and an untimed `dbt parse`
with the same vars first, like bench/run.py: the timed build starts from dbt's partial-parse state.
a and c run --repeats times (3; the repeats after d, a and c alternating): a ~15 s build varies by +-10%
here, the second target's whole margin. Each step's median run is reported and used for the ratios.

Targets (the issue "Ready to train", judged at N ~ 5e8):
  (b - a) / d <= 1.3   the build's extra time for counting vs encode_batch's on the same texts
  c / a       <= 1.1   a cached build (same tokenizer and template, another budget) vs no tokenizer

The bench tokenizer (sera_testkit.tokenizer.make_tokenizer, cached in --data-dir keyed by its settings):
a byte-level BPE with Qwen3's chat template, vocab --vocab (32000), trained on the texts of the first
--train-rows generated rows of each dataset, the real fixture trajectories and --train-stdlib-files
files of Python's standard library (real code, as the rows' tool outputs show; the synthetic rows alone
hold too few distinct words to fill 32k tokens). The tests' 2k-vocabulary tokenizer is a toy; a real
model's has ~150k tokens.

Prints a table (seconds, MB/s of source JSONL, peak RSS, CPU seconds, the conversion's and the exports'
node seconds: c's budget keeps fewer rows, so its exports are cheaper than a's), the two ratios with PASS/FAIL, the
conversion's "n_tokens: ..." log line of b and c and the sum check; writes it all to --out (JSON).

Usage (`make bench-tokens` sets PYTHONPATH for sera_testkit, which is not installed):
       PYTHONPATH=tests/support python bench/tokens.py [--bytes 5e8] [--out bench/results/tokens.json]
       PYTHONPATH=tests/support python bench/tokens.py --bytes 3e6 --vocab 2000 --train-rows 1 --train-stdlib-files 0  # smoke
       PYTHONPATH=tests/support python bench/tokens.py --profile [--profile-rows 40]   # where the per-row time goes

--profile runs, in one process on a small slice, the build's per-row counting (tokens.ChunkCounter.n_tokens)
under cProfile, then each part alone: chat template rendering, the Rust encode of one text, the Python
tokenizer call around it, the pre-tokenizer alone (before a model that does not merge), the cache key
hashing and the cached path; and, in a fresh process, importing transformers and loading the tokenizer.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))  # bench/run.py and bench/generate.py, also when this file is loaded by path

import generate  # noqa: E402
import run as bench  # noqa: E402
from sera_rectify.render import ToolSet  # noqa: E402

REPO = bench.REPO
MIB = bench.MIB
STEPS = ("no_tokenizer", "tokenizer_first", "tokenizer_cached", "encode_batch")
FIRST_BUDGET = 32768
SECOND_BUDGET = 16384
TARGETS = {"extra_vs_encode_batch": 1.3, "cached_vs_no_tokenizer": 1.1}
TOKENIZER_VERSION = 1  # bump when the way the bench tokenizer is trained changes
N_TOKENS_LINE = re.compile(r"n_tokens: ([\d,]+) rows counted with the tokenizer, ([\d,]+) from the cache, ([\d,]+) not rendered[^\n]*")


# ---------------------------------------------------------------------------------------------
# the bench tokenizer


def _strings(value: object):
    """Every string inside a parsed JSON value (message texts, tool call arguments, ...)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)


def stdlib_files(n: int) -> list[Path]:
    return sorted(Path(sysconfig.get_paths()["stdlib"]).rglob("*.py"))[:n]


def training_texts(rows_per_dataset: int, seed: int, n_stdlib: int) -> list[str]:
    """The texts of generated rows (pool rows 0 .. rows_per_dataset-1 of each dataset: rows the input
    holds), the real fixture trajectories, and Python standard library sources."""
    from sera_testkit import synthetic
    from sera_testkit.tokenizer import training_texts as fixture_texts

    texts: list[str] = []
    for dataset in generate.PROPORTIONS:
        for j in range(rows_per_dataset):
            texts.extend(_strings(json.loads(synthetic.make_row(dataset, j, seed, "realistic")["messages"])))
    texts.extend(fixture_texts())
    texts.extend(path.read_text(encoding="utf-8", errors="replace") for path in stdlib_files(n_stdlib))
    return texts


def bench_tokenizer(data_dir: Path, vocab: int, rows_per_dataset: int, seed: int, n_stdlib: int) -> tuple[Path, dict]:
    """The bench tokenizer's folder, trained once per settings and cached under data_dir."""
    from sera_testkit import tokenizer as testkit_tokenizer

    settings = {
        "version": TOKENIZER_VERSION,
        "vocab_size": vocab,
        "train_rows_per_dataset": rows_per_dataset,
        "seed": seed,
        "train_stdlib_files": n_stdlib,
        "python": sys.version.split()[0],
        "synthetic_sha256": generate.synthetic_hash(),
        "testkit_tokenizer_sha256": hashlib.sha256(Path(testkit_tokenizer.__file__).read_bytes()).hexdigest()[:16],
    }
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]
    folder = data_dir / f"tokenizer-vocab-{vocab}-rows-{rows_per_dataset}-stdlib-{n_stdlib}-seed-{seed}-{key}"
    info_file = folder / "bench_tokenizer.json"
    if info_file.is_file():
        return folder, dict(json.loads(info_file.read_text()), cached=True)
    started = time.perf_counter()
    texts = training_texts(rows_per_dataset, seed, n_stdlib)
    data_dir.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=".tokenizer-", dir=data_dir))
    testkit_tokenizer.make_tokenizer(temporary, vocab_size=vocab, texts=texts)
    vocab_reached = json.loads((temporary / "tokenizer.json").read_text(encoding="utf-8"))["model"]["vocab"]
    info = dict(
        settings,
        folder=str(folder),
        vocab_reached=len(vocab_reached),
        training_texts=len(texts),
        training_chars=sum(map(len, texts)),
        train_seconds=round(time.perf_counter() - started, 3),
    )
    (temporary / "bench_tokenizer.json").write_text(json.dumps(info, indent=2) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(temporary, folder)
    return folder, dict(info, cached=False)


# ---------------------------------------------------------------------------------------------
# step d: the tokenizer's own encode_batch (runs in its own process: --encode-db)


def encode_database(db: Path, tokenizer_folder: Path, batch_rows: int) -> dict:
    """Render every row of `sera_rectified_sft` (untimed), time only encode_batch over them."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import duckdb
    from transformers import AutoTokenizer

    from sera_rectify.spec import tool_schemas

    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_folder))
    load_seconds = time.perf_counter() - started
    backend = tokenizer.backend_tokenizer
    tools = tool_schemas()  # the spec's tools: what the build counts SERA rows with
    rows = failed = n_tokens = rendered_chars = rendered_bytes = batches = 0
    render_seconds = encode_seconds = encode_cpu_seconds = 0.0
    with duckdb.connect(str(db), read_only=True) as connection:
        reader = connection.sql("select messages from sera_rectified_sft").to_arrow_reader(batch_rows)  # streamed
        for batch in reader:
            started = time.perf_counter()
            texts = []
            for messages in batch.column(0).to_pylist():
                try:
                    texts.append(tokenizer.apply_chat_template(json.loads(messages), tools=tools, tokenize=False))
                except Exception:  # noqa: BLE001 - as the build: a row the template refuses has no count
                    failed += 1
            render_seconds += time.perf_counter() - started
            wall, cpu = time.perf_counter(), time.process_time()
            # apply_chat_template(tokenize=True) encodes with add_special_tokens=False: the same here
            encodings = backend.encode_batch(texts, add_special_tokens=False)
            encode_seconds += time.perf_counter() - wall
            encode_cpu_seconds += time.process_time() - cpu
            n_tokens += sum(len(encoding.ids) for encoding in encodings)
            rows += len(batch)
            batches += 1
            rendered_chars += sum(map(len, texts))
            rendered_bytes += sum(len(text.encode("utf-8")) for text in texts)
            del texts, encodings
    return {
        "rows": rows,
        "not_rendered": failed,
        "batches": batches,
        "batch_rows": batch_rows,
        "n_tokens_sum": n_tokens,
        "rendered_chars": rendered_chars,
        "rendered_bytes": rendered_bytes,
        "load_seconds": round(load_seconds, 3),
        "render_seconds": round(render_seconds, 3),
        "encode_seconds": round(encode_seconds, 3),
        "encode_cpu_seconds": round(encode_cpu_seconds, 3),
        "encode_rendered_mb_per_s": rendered_bytes / 1e6 / max(encode_seconds, 1e-9),
        "rayon_threads": os.environ.get("RAYON_NUM_THREADS") or os.cpu_count(),
    }


# ---------------------------------------------------------------------------------------------
# --profile: where the time of counting goes, on a small slice, one process


class _Recorder:
    """Stands in for the build's ChunkCounter in output_row: keeps each row's SFT messages (list and
    JSON) and its tools."""

    def __init__(self) -> None:
        self.rows: list[tuple[list[dict], str, ToolSet]] = []

    def n_tokens(self, messages: list[dict], messages_json: str, tools: ToolSet) -> None:
        self.rows.append((messages, messages_json, tools))


def _timed(function, items) -> tuple[float, list]:
    started = time.perf_counter()
    results = [function(item) for item in items]
    return time.perf_counter() - started, results


def profile(tokenizer_folder: Path, rows: int, seed: int, pool: int, top: int) -> dict:
    """The per-row work of a build with a tokenizer (tokens.ChunkCounter.n_tokens) on `rows` generated rows,
    one process: under cProfile, then each part timed alone (render, encode, hashing, the cache path)."""
    import cProfile
    import io
    import pstats

    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    # what every build with a tokenizer pays once, before any row: importing transformers and loading the
    # tokenizer (in a fresh process: this one may have imported transformers already)
    load_code = (
        "import time; started = time.perf_counter(); from transformers import AutoTokenizer; imported = time.perf_counter(); "
        f"AutoTokenizer.from_pretrained({str(tokenizer_folder)!r}); "
        "print(imported - started, time.perf_counter() - imported)"
    )
    fresh = subprocess.run([sys.executable, "-c", load_code], capture_output=True, text=True, check=True)
    import_seconds, fresh_load_seconds = (float(x) for x in fresh.stdout.split()[-2:])
    from tokenizers import Tokenizer, models

    from sera_rectify.rows import output_row
    from sera_rectify.sources import parse_line
    from sera_rectify.tokens import ChunkCounter, TokenizerSpec, content_key, load_counter, tool_schemas_of

    started = time.perf_counter()
    spec = TokenizerSpec(str(tokenizer_folder))
    counter = load_counter(spec)
    load_seconds = time.perf_counter() - started
    dataset = "Sera-4.5A-Full-T2"
    recorder = _Recorder()
    with tempfile.TemporaryDirectory(prefix="sera-bench-tokens-profile-") as folder:
        path = Path(folder) / generate.dataset_file(dataset)
        generate.write_dataset(path, dataset, seed, pool, None, rows)
        with open(path, "rb") as handle:
            for line in handle:
                output_row(parse_line(line), dataset, "T2", recorder)
    sft = recorder.rows
    tokenizer, template, tools = counter.tokenizer, counter.chat_template, tool_schemas_of(sft[0][2])
    backend = tokenizer.backend_tokenizer

    profiler = cProfile.Profile()
    chunk = ChunkCounter(spec, {})
    started = time.perf_counter()
    profiler.enable()
    counts = [chunk.n_tokens(*row) for row in sft]
    profiler.disable()
    counted_seconds = time.perf_counter() - started
    texts_stream = io.StringIO()
    pstats.Stats(profiler, stream=texts_stream).strip_dirs().sort_stats("tottime").print_stats(top)

    def render(row):
        return tokenizer.apply_chat_template(row[0], tools=tools, chat_template=template, tokenize=False)

    seconds: dict[str, float] = {}
    seconds["n_tokens_per_row_no_profiler"], again = _timed(lambda row: ChunkCounter(spec, {}).n_tokens(*row), sft)
    seconds["render_chat_template"], texts = _timed(render, sft)
    seconds["encode_one_text_rust"], encoded = _timed(lambda text: len(backend.encode(text, add_special_tokens=False).ids), texts)
    seconds["tokenizer_call_python"], _ = _timed(lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"]), texts)
    # the same pre-tokenizer before a model that does no merging: what encode costs without BPE
    split_only = Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    split_only.normalizer, split_only.pre_tokenizer = backend.normalizer, backend.pre_tokenizer
    seconds["pre_tokenizer_only"], _ = _timed(lambda text: len(split_only.encode(text, add_special_tokens=False).ids), texts)
    seconds["content_key_blake2b"], keys = _timed(lambda row: content_key(row[1], row[2]), sft)
    seconds["tool_schemas_call"], _ = _timed(lambda row: tool_schemas_of(row[2]), sft)
    cached = ChunkCounter(spec, dict(zip(keys, counts, strict=True)))
    seconds["cached_path_per_row"], _ = _timed(lambda row: cached.n_tokens(*row), sft)
    started = time.perf_counter()
    batch = backend.encode_batch(texts, add_special_tokens=False)
    seconds["encode_batch_all_cores"] = time.perf_counter() - started
    rendered_bytes = sum(len(text.encode("utf-8")) for text in texts)
    return {
        "rows": len(sft),
        "sft_json_bytes": sum(len(row[1].encode("utf-8")) for row in sft),
        "rendered_bytes": rendered_bytes,
        "n_tokens_sum": sum(encoded),
        "counts_agree": counts == again == encoded == [len(e.ids) for e in batch],
        "import_transformers_seconds": round(import_seconds, 3),
        "load_tokenizer_seconds": round(fresh_load_seconds, 3),
        "load_counter_seconds": round(load_seconds, 3),
        "n_tokens_under_cprofile_seconds": round(counted_seconds, 3),
        "seconds": {name: round(value, 4) for name, value in seconds.items()},
        "rendered_mb_per_s": {name: round(rendered_bytes / 1e6 / value, 2) for name, value in seconds.items() if value > 0},
        "top_tottime": texts_stream.getvalue(),
    }


# ---------------------------------------------------------------------------------------------
# the dbt steps


def n_tokens_line(log: Path) -> str | None:
    """The conversion's last "n_tokens: ... counted ..., ... from the cache, ..." line in a dbt log."""
    try:
        matches = list(N_TOKENS_LINE.finditer(log.read_text(encoding="utf-8", errors="replace")))
    except OSError:
        return None
    return matches[-1].group(0).strip() if matches else None


def token_numbers(line: str | None) -> dict:
    match = N_TOKENS_LINE.search(line or "")
    if not match:
        return {}
    counted, cached, not_rendered = (int(group.replace(",", "")) for group in match.groups())
    return {"counted": counted, "from_cache": cached, "not_rendered": not_rendered}


def sft_token_sums(db: Path) -> dict:
    try:
        import duckdb

        with duckdb.connect(str(db), read_only=True) as connection:
            total, counted, rows = connection.execute("select sum(n_tokens), count(n_tokens), count(*) from sera_rectified_sft").fetchone()
        return {"n_tokens_sum": None if total is None else int(total), "rows_with_n_tokens": counted, "sft_rows": rows}
    except Exception as err:  # a report, not the measurement
        return {"db_error": f"{type(err).__name__}: {err}"}


def node_seconds(target: Path) -> dict[str, float]:
    """Seconds per dbt node (model or test name) of the build, from run_results.json."""
    try:
        results = json.loads((target / "run_results.json").read_text())["results"]
    except (OSError, ValueError, KeyError):
        return {}
    return {r["unique_id"].split(".", 2)[-1]: round(r["execution_time"], 3) for r in results}


EXPORT_NODES = ("sera_rectified_export", "sera_rectified_sft_export")


def run_summary(result: dict) -> dict:
    """One run of a step, in short (every run of a repeated step is kept so)."""
    nodes = result.get("node_seconds") or {}
    summary = {key: result.get(key) for key in ("seconds", "cpu_seconds", "peak_rss_bytes", "returncode", "load_1m_before")}
    if nodes:
        summary["conversion_seconds"] = nodes.get("int_conversion_parts")
        summary["export_seconds"] = round(sum(nodes.get(name, 0) for name in EXPORT_NODES), 3)
        summary["card_seconds"] = nodes.get("sera_rectified_card")
    return summary


def dbt_step(step: str, out: Path, sources: Path, extra_vars: dict, poll: float) -> dict:
    """`dbt parse` (untimed) then the timed `dbt build`, in the work folder `out`, as bench/run.py does."""
    db, target = out / "sera.duckdb", out / "target"
    env = dict(os.environ, SERA_DB=str(db), SERA_TEMP_DIR=str(out / "spill"), DBT_PROFILES_DIR=str(REPO))
    # allow_empty_export: a budget may keep no generated row (they are long); the build must not stop there
    export_path = str(out / "output" / "sera_rectified.parquet")
    dbt_vars = json.dumps({"sources_dir": str(sources), "export_path": export_path, "allow_empty_export": True, **extra_vars})
    common = ["--vars", dbt_vars, "--target-path", str(target), "--log-path", str(out / "logs")]
    started = time.perf_counter()
    parse = subprocess.run([str(bench.BIN / "dbt"), "parse", *common], env=env, cwd=REPO, capture_output=True, text=True)
    parse_seconds = time.perf_counter() - started
    result = bench.run_step(step, [str(bench.BIN / "dbt"), "build", *common], out, env=env, poll=poll)
    result["parse_seconds"] = round(parse_seconds, 3) if parse.returncode == 0 else None
    result["vars"] = extra_vars
    result["build"] = bench.dbt_details(db, target)
    result.update(sft_token_sums(db))
    result["node_seconds"] = node_seconds(target)
    line = n_tokens_line(out / "logs" / "dbt.log")
    result["n_tokens_log"] = line
    result["n_tokens_log_numbers"] = token_numbers(line)
    return result


# ---------------------------------------------------------------------------------------------
# ratios, checks, report


def ratios(steps: dict) -> dict:
    def ok(name: str) -> bool:
        return name in steps and steps[name]["returncode"] == 0

    found: dict = {}
    if ok("no_tokenizer") and ok("tokenizer_first") and ok("encode_batch"):
        extra = steps["tokenizer_first"]["seconds"] - steps["no_tokenizer"]["seconds"]
        extra_cpu = steps["tokenizer_first"]["cpu_seconds"] - steps["no_tokenizer"]["cpu_seconds"]
        found["extra_seconds"] = extra
        found["extra_vs_encode_batch"] = extra / steps["encode_batch"]["seconds"]
        # steadier, not the target: CPU seconds of the extra work vs encode_batch's CPU seconds
        found["extra_cpu_vs_encode_batch_cpu"] = extra_cpu / max(steps["encode_batch"]["encode_cpu_seconds"], 1e-9)
    if ok("no_tokenizer") and ok("tokenizer_cached"):
        found["cached_extra_seconds"] = steps["tokenizer_cached"]["seconds"] - steps["no_tokenizer"]["seconds"]
        found["cached_vs_no_tokenizer"] = steps["tokenizer_cached"]["seconds"] / steps["no_tokenizer"]["seconds"]
        found["cached_cpu_vs_no_tokenizer_cpu"] = steps["tokenizer_cached"]["cpu_seconds"] / steps["no_tokenizer"]["cpu_seconds"]
    return found


def checks(report: dict) -> dict:
    steps = report["steps"]
    first, cached, encoded = (steps.get(name, {}) for name in ("tokenizer_first", "tokenizer_cached", "encode_batch"))
    rows_out = first.get("build", {}).get("rows_out")
    found: dict = {
        "encode_batch_n_tokens_sum": encoded.get("n_tokens_sum"),
        "build_n_tokens_sum": first.get("n_tokens_sum"),
        "cached_build_n_tokens_sum": cached.get("n_tokens_sum"),
    }
    found["encode_batch_sum_equals_build_sum"] = (
        found["encode_batch_n_tokens_sum"] is not None and found["encode_batch_n_tokens_sum"] == found["build_n_tokens_sum"]
    )
    found["cached_sum_equals_first_sum"] = (
        found["cached_build_n_tokens_sum"] is not None and found["cached_build_n_tokens_sum"] == found["build_n_tokens_sum"]
    )
    found["encode_batch_rows_equal_build_rows"] = encoded.get("rows") is not None and encoded.get("rows") == first.get("sft_rows")
    found["first_build_counted_every_row"] = rows_out is not None and first.get("n_tokens_log_numbers", {}).get("counted") == rows_out
    found["cached_build_counted_no_row"] = (
        cached.get("n_tokens_log_numbers", {}).get("counted") == 0 and cached.get("n_tokens_log_numbers", {}).get("from_cache") == rows_out
    )
    return found


def evaluate(found: dict) -> list[dict]:
    descriptions = {
        "extra_vs_encode_batch": "build's extra time with a tokenizer / encode_batch's time on the same texts",
        "cached_vs_no_tokenizer": "cached build (another max_tokens) / build without a tokenizer",
    }
    targets = []
    for name, threshold in TARGETS.items():
        value = found.get(name)
        passed = None if value is None else value <= threshold
        targets.append(bench.target_result(name, f"{descriptions[name]} <= {threshold}x", value, threshold, passed, "x"))
    return targets


def print_report(report: dict) -> None:
    line = (
        f"{'step':<17} {'runs':>4} {'seconds':>8} {'(min-max)':>13} {'MB/s':>6} {'peak RSS MiB':>12} {'PSS MiB':>8} "
        f"{'CPU s':>6} {'convert s':>9} {'export s':>8} {'load':>5} {'status':>6}"
    )
    print(line)
    print("-" * len(line))
    for step, r in report["steps"].items():
        status = "ok" if all(run["returncode"] == 0 for run in r["runs"]) else "failed"
        seconds = [run["seconds"] for run in r["runs"]]
        spread = f"({min(seconds):.1f}-{max(seconds):.1f})" if len(seconds) > 1 else ""
        summary = run_summary(r)
        convert = f"{summary['conversion_seconds']:.1f}" if summary.get("conversion_seconds") is not None else "-"
        export = f"{summary['export_seconds']:.1f}" if "export_seconds" in summary else "-"
        print(
            f"{step:<17} {len(seconds):4d} {r['seconds']:8.1f} {spread:>13} {r['mb_per_s']:6.1f} {r['peak_rss_bytes'] / MIB:12.0f} "
            f"{r['peak_pss_bytes'] / MIB:8.0f} {r['cpu_seconds']:6.1f} {convert:>9} {export:>8} {r['load_1m_before']:5.1f} {status:>6}"
        )
    print("(seconds: the median run; encode_batch: encode_batch alone; convert s, export s: the nodes int_conversion_parts, the 2 exports)")
    tokenizer = report["tokenizer"]
    print(f"input: {report['source_rows']} rows, {report['source_bytes'] / 1e6:.0f} MB of JSONL")
    print(
        f"tokenizer: {tokenizer['folder']}: vocab {tokenizer['vocab_reached']} (asked {tokenizer['vocab_size']}), "
        f"trained on {tokenizer['training_chars'] / 1e6:.1f} M chars"
    )
    encoded = report["steps"].get("encode_batch", {})
    if "encode_seconds" in encoded:
        print(
            f"encode_batch: {encoded['rows']} rows, {encoded['rendered_bytes'] / 1e6:.0f} MB rendered "
            f"(render {encoded['render_seconds']:.1f} s untimed), encode {encoded['encode_seconds']:.1f} s "
            f"({encoded['encode_rendered_mb_per_s']:.2f} MB/s of rendered text, CPU {encoded['encode_cpu_seconds']:.1f} s), "
            f"{encoded['n_tokens_sum']:,} tokens"
        )
    for step in ("tokenizer_first", "tokenizer_cached"):
        if step in report["steps"]:
            r = report["steps"][step]
            print(
                f"{step}: {r.get('n_tokens_log')}; export rows {r['build'].get('export_rows')} (max_tokens {r['vars'].get('max_tokens')})"
            )
    found = report["ratios"]
    if "extra_seconds" in found:
        print(f"extra time with a tokenizer: {found['extra_seconds']:.1f} s (CPU ratio {found['extra_cpu_vs_encode_batch_cpu']:.2f}x)")
    if "cached_extra_seconds" in found:
        print(
            f"extra time of the cached build: {found['cached_extra_seconds']:.1f} s "
            f"(CPU ratio {found['cached_cpu_vs_no_tokenizer_cpu']:.2f}x)"
        )
    c = report["checks"]
    equal = c["encode_batch_sum_equals_build_sum"] and c["cached_sum_equals_first_sum"]
    print(
        f"n_tokens sum: encode_batch {c['encode_batch_n_tokens_sum']}, build {c['build_n_tokens_sum']}, "
        f"cached build {c['cached_build_n_tokens_sum']}: {'equal' if equal else 'DIFFERENT'}"
    )
    print()
    for t in report["targets"]:
        shown = "-" if t["value"] is None else f"{t['value']:.2f}x"
        print(f"{t['result']:>4}  {t['description']}: {shown}")
    failed = [name for name, value in c.items() if value is False]
    if failed:
        print("CHECK FAILED: " + ", ".join(failed))


def measure(args: argparse.Namespace) -> dict:
    started = time.perf_counter()
    dest = args.data_dir / f"bytes-{int(args.bytes)}-seed-{args.seed}-pool-{args.pool}"
    print(f"bench-tokens: generating {args.bytes / 1e6:.0f} MB into {dest} ...", file=sys.stderr, flush=True)
    manifest = generate.generate(dest, target_bytes=args.bytes, seed=args.seed, pool=args.pool, quiet=True)
    print("bench-tokens: the bench tokenizer ...", file=sys.stderr, flush=True)
    folder, tokenizer = bench_tokenizer(args.data_dir, args.vocab, min(args.train_rows, args.pool), args.seed, args.train_stdlib_files)
    files = [dest / entry["file"] for entry in manifest["datasets"].values()]
    source_bytes, source_rows = manifest["total_bytes"], manifest["total_rows"]
    report = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": bench.machine(),
        "args": {k: str(v) for k, v in vars(args).items()},
        "sources_dir": str(dest),
        "source_bytes": source_bytes,
        "source_rows": source_rows,
        "generate_seconds": round(manifest["seconds"], 3),
        "generate_cached": manifest["cached"],
        "tokenizer": tokenizer,
        "warm_cache_seconds": round(bench.warm_page_cache(files), 3),
        "steps": {},
    }
    workdir = Path(tempfile.mkdtemp(prefix="sera-bench-tokens-", dir=args.work_dir))
    token_cache = workdir / "token_cache"  # fresh: b counts every row, c reads what b wrote
    tokenizer_vars = {"tokenizer": str(folder), "token_cache_dir": str(token_cache)}
    plans = {
        "no_tokenizer": {},
        "tokenizer_first": dict(tokenizer_vars, max_tokens=FIRST_BUDGET),
        "tokenizer_cached": dict(tokenizer_vars, max_tokens=SECOND_BUDGET),
    }
    # a and c again after d (--repeats): single builds of ~15 s vary by +-10% here, as much as the
    # target's margin; the ratios use each step's median run
    schedule = [*STEPS, *[step for _ in range(max(args.repeats, 1) - 1) for step in ("no_tokenizer", "tokenizer_cached")]]
    runs: dict[str, list[dict]] = {step: [] for step in STEPS}
    try:
        for number, step in enumerate(schedule):
            out = workdir / f"{number:02d}-{step}"
            out.mkdir(parents=True, exist_ok=True)
            print(f"bench-tokens: {step} ...", file=sys.stderr, flush=True)
            if step == "encode_batch":
                db = workdir / f"{STEPS.index('tokenizer_first'):02d}-tokenizer_first" / "sera.duckdb"
                command = [sys.executable, str(Path(__file__).resolve()), "--encode-db", str(db), "--tokenizer", str(folder)]
                result = bench.run_step(step, [*command, "--batch-rows", str(args.batch_rows)], out, poll=args.poll)
                summary = result.get("summary") or {}
                result.update(summary)
                result["wall_seconds"] = result["seconds"]
                if "encode_seconds" in summary:
                    result["seconds"] = summary["encode_seconds"]  # only encode_batch is timed
                shutil.rmtree(db.parent, ignore_errors=True)
            else:
                result = dbt_step(step, out, dest, plans[step], args.poll)
            result["mb_per_s"] = source_bytes / 1e6 / max(result["seconds"], 1e-9)
            result["rows_per_s"] = source_rows / max(result["seconds"], 1e-9)
            runs[step].append(result)
            status = "ok" if result["returncode"] == 0 else f"FAILED (exit {result['returncode']})"
            print(
                f"bench-tokens: {step}: {result['seconds']:.1f} s, {result['peak_rss_bytes'] / MIB:.0f} MiB, {status}",
                file=sys.stderr,
                flush=True,
            )
            if result["returncode"] != 0:
                print(result.get("error_tail", ""), file=sys.stderr)
            if step != "tokenizer_first":  # b's database is read by d
                shutil.rmtree(out, ignore_errors=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for step, done in runs.items():
        if done:
            median = sorted(done, key=lambda r: r["seconds"])[(len(done) - 1) // 2]
            report["steps"][step] = dict(median, runs=[run_summary(r) for r in done])
    report["ratios"] = ratios(report["steps"])
    report["checks"] = checks(report)
    report["targets"] = evaluate(report["ratios"])
    report["total_seconds"] = time.perf_counter() - started
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1]
    )
    parser.add_argument("--bytes", type=float, default=5e8, help="bytes of generated JSON Lines (default 5e8)")
    parser.add_argument("--seed", type=int, default=generate.DEFAULT_SEED)
    parser.add_argument("--pool", type=int, default=generate.DEFAULT_POOL, help="distinct rows per dataset (bench/generate.py)")
    parser.add_argument("--vocab", type=int, default=32000, help="the bench tokenizer's vocabulary size (default 32000)")
    parser.add_argument("--train-rows", type=int, default=8, help="generated rows per dataset the tokenizer is trained on (default 8)")
    parser.add_argument(
        "--train-stdlib-files", type=int, default=2000, help="Python standard library files it is trained on (default 2000)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs of a and c, the median is used (default 3)")
    parser.add_argument("--batch-rows", type=int, default=256, help="rows per encode_batch call (default 256)")
    parser.add_argument("--data-dir", type=Path, default=BENCH / "data", help="where generated inputs and the tokenizer are cached")
    parser.add_argument("--work-dir", type=Path, default=None, help="parent of the temporary work folders (default: system temp)")
    parser.add_argument("--out", type=Path, default=None, help="the JSON report (default bench/results/tokens.json; --profile: none)")
    parser.add_argument("--poll", type=float, default=0.2, help="seconds between memory polls")
    parser.add_argument("--strict", action="store_true", help="exit 3 when a target or check fails")
    parser.add_argument("--profile", action="store_true", help="only profile the per-row counting on a small slice")
    parser.add_argument("--profile-rows", type=int, default=40)
    parser.add_argument("--profile-top", type=int, default=25)
    parser.add_argument("--encode-db", type=Path, help=argparse.SUPPRESS)  # step d, in its own process
    parser.add_argument("--tokenizer", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.encode_db:
        print(json.dumps(encode_database(args.encode_db, args.tokenizer, args.batch_rows)))
        return 0

    if args.profile:
        folder, tokenizer = bench_tokenizer(args.data_dir, args.vocab, min(args.train_rows, args.pool), args.seed, args.train_stdlib_files)
        result = profile(folder, args.profile_rows, args.seed, args.pool, args.profile_top)
        print(result["top_tottime"])
        print(json.dumps({k: v for k, v in result.items() if k != "top_tottime"}, indent=2))
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps({"profile": result, "tokenizer": tokenizer, "machine": bench.machine()}, indent=2) + "\n")
        return 0

    args.out = args.out or BENCH / "results" / "tokens.json"
    report = measure(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print_report(report)
    print(f"\nwritten: {args.out} (total {report['total_seconds']:.0f} s)")
    if any(r["returncode"] != 0 for r in report["steps"].values()):
        return 1
    failed = any(t["result"] == "FAIL" for t in report["targets"]) or any(v is False for v in report["checks"].values())
    return 3 if args.strict and failed else 0


if __name__ == "__main__":
    sys.exit(main())
