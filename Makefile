# sera-rectify: the two set-up commands are `make run` and `make test` (README.md).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
DBT := DBT_PROFILES_DIR=$(CURDIR) $(BIN)/dbt
SHARED ?= ../shared
# the test/benchmark support package (tests/support/sera_testkit: the synthetic row generator), not installed
TESTKIT := PYTHONPATH=$(CURDIR)/tests/support$(if $(PYTHONPATH),:$(PYTHONPATH))

.PHONY: run test venv sample real subset-lite-t2 subset-verified subset-sera32b bench bench-tokens bench-formats bench-ray bench-profile query docs clean

# Python 3.11 venv with the pinned dependencies; re-installed when pyproject.toml changes
$(BIN)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=/path/to/python3.11 ...'"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

venv: $(BIN)/.installed

## main job: dbt build on the embedded sample -> output/sera_rectified.parquet and sera.duckdb
run: venv
	$(DBT) build

## every test: pytest (unit + integration) then dbt build on the sample (runs the dbt data tests)
test: venv
	$(BIN)/ruff check python models tests scripts bench
	$(BIN)/sqlfluff lint models tests/data --processes 2
	$(BIN)/python -m pytest
	$(DBT) build
	@if [ -f $(SHARED)/tools/check_output.py ]; then $(BIN)/python $(SHARED)/tools/check_output.py output/sera_rectified.parquet; fi

## regenerate the synthetic part of data/sample/ (deterministic: same bytes every time)
sample: venv
	$(TESTKIT) $(BIN)/python scripts/generate_sample.py --dest data/sample

## build on the real sources downloaded with `python -m sera_rectify download --dest data/sources`
real: venv
	$(DBT) build --vars '{sources_dir: data/sources}'

## filtered exports, each in its own folder with its SFT file and card (the DuckDB tables keep every row)
subset-lite-t2: venv
	$(DBT) build --vars '{teacher: GLM-4.6, rollout: T2, min_recall: 0.75, export_path: output/lite_t2_075/data.parquet}'

subset-verified: venv
	$(DBT) build --vars '{min_recall: 0.75, export_path: output/verified_075/data.parquet}'

## the SERA-32B style file (docs/training.md): Lite-T2, recall >= MIN_RECALL, at most MAX_TOKENS tokens for TOKENIZER
## (a Hub model id or a local tokenizer folder) -> output/sera32b/; SOURCES_DIR=data/sources for the real sources
TOKENIZER ?= Qwen/Qwen3-8B
MIN_RECALL ?= 0.75
MAX_TOKENS ?= 32768
SOURCES_DIR ?= data/sample
subset-sera32b: venv
	$(DBT) build --vars '{sources_dir: "$(SOURCES_DIR)", datasets: [Sera-4.6-Lite-T2], min_recall: $(MIN_RECALL), tokenizer: "$(TOKENIZER)", max_tokens: $(MAX_TOKENS), export_path: output/sera32b/data.parquet}'

## benchmark: copy floor vs naive converter vs the whole dbt build at N and 2N (N = 2 GB): table + bench/results/latest.json
BENCH_BYTES ?= 2e9
bench: venv
	$(TESTKIT) $(BIN)/python bench/run.py --bytes $(BENCH_BYTES) --out bench/results/latest.json

## token counting's cost (issue "Ready to train"): dbt build without a tokenizer, with one (first, then cached)
## and the tokenizer's own encode_batch on the same texts (N = 500 MB): table + bench/results/tokens.json
BENCH_TOKENS_BYTES ?= 5e8
bench-tokens: venv
	$(TESTKIT) $(BIN)/python bench/tokens.py --bytes $(BENCH_TOKENS_BYTES) --out bench/results/tokens.json

## what a source format other than SERA's costs (issue "Beyond SERA"): the same trajectories in each format's
## layout, one dbt build each (N = 300 MB of SERA rows): table + bench/results/formats.json
BENCH_FORMATS_BYTES ?= 3e8
bench-formats: venv
	$(TESTKIT) $(BIN)/python bench/formats.py --bytes $(BENCH_FORMATS_BYTES) --out bench/results/formats.json

## the conversion on Ray (issue 16): engine ray vs local, and Ray's local test cluster with 1 and 2 nodes, on the
## same generated input (N = 2 GB): table + bench/results/ray.json
BENCH_RAY_BYTES ?= 2e9
bench-ray: venv
	$(TESTKIT) $(BIN)/python bench/engines.py --bytes $(BENCH_RAY_BYTES) --out bench/results/ray.json

## where the conversion's time goes: cProfile of a small slice
bench-profile: venv
	$(TESTKIT) $(BIN)/python bench/run.py --profile --out bench/results/profile.json

## ad-hoc SQL, read-only: `make query` lists queries/, `make query Q=rows_by_teacher_rollout [DB=file.duckdb] [ARGS='--set instance_id=...']`
query: venv
	@$(BIN)/python scripts/query.py $(if $(Q),$(Q),--list) $(if $(DB),--db $(DB)) $(ARGS)

## dbt docs of every model and column, from the built sera.duckdb, into target/ (then `.venv/bin/dbt docs serve` to browse)
docs: venv
	$(DBT) docs generate

clean:
	rm -rf target logs output sera.duckdb sera.duckdb.wal sera_converted sera_token_counts
