# Two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
export WELFARE_HOME ?= $(CURDIR)/.local
export PYTHONDONTWRITEBYTECODE := 1
UV_VERSION := 0.13.8
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
VENV := $(CURDIR)/.venv
DEMO_SOURCES := $(WELFARE_HOME)/demo-sources
DEMO_SCALE ?= 0.01
BENCH_DIR := $(WELFARE_HOME)/bench
BENCH_SCALE ?= 1.0

.PHONY: run test fuzz setup bench bench-ingest bench-warehouse bench-nightly lint lint-python lint-sql clean-home warehouse-stop

$(UV):
	python3 -m pip install --quiet --user "uv==$(UV_VERSION)" \
	  || python3 -m pip install --quiet --user --break-system-packages "uv==$(UV_VERSION)" \
	  || python3 -m pip install --quiet "uv==$(UV_VERSION)"

setup: $(UV)
	"$$(command -v uv || echo $(HOME)/.local/bin/uv)" sync --frozen --python python3.11
	bash scripts/system-packages.sh
	mkdir -p -m 0700 "$(WELFARE_HOME)" && chmod 0700 "$(WELFARE_HOME)"

## make run: generate a small synthetic province and run the real pipeline over it
run: setup
	rm -rf "$(DEMO_SOURCES)"
	$(VENV)/bin/welfare generate --out "$(DEMO_SOURCES)" --scale $(DEMO_SCALE) --seed 60
	@# exit 3 = the run completed and reports the rejected files the demo plants on purpose
	$(VENV)/bin/welfare run --sources "$(DEMO_SOURCES)"; rc=$$?; \
	  if [ $$rc -eq 3 ]; then echo "make run: done; the files rejected above were planted by the generator"; \
	  else exit $$rc; fi

## make test: the linters, then every test, against a real PostgreSQL, real Airflow, real GX and real dbt
test: lint
	$(VENV)/bin/python -m pytest -p no:cacheprovider

## make fuzz: the property-based fuzzing of the loader (tests/fuzz) with many cases; make test runs a few
fuzz: export WELFARE_FUZZ_EXAMPLES ?= 1000
fuzz: setup
	$(VENV)/bin/python -m pytest -p no:cacheprovider tests/fuzz -q

## make bench: province-scale benchmarks (not part of make test); figures go to $(BENCH_DIR)/results.json
bench: setup
	mkdir -p "$(BENCH_DIR)"
	rm -rf "$(BENCH_DIR)/sources"
	/usr/bin/time -v -o "$(BENCH_DIR)/generate.time" \
	  $(VENV)/bin/welfare generate --out "$(BENCH_DIR)/sources" --scale $(BENCH_SCALE) --seed 60
	-$(VENV)/bin/welfare calibrate --sources "$(BENCH_DIR)/sources" --json "$(BENCH_DIR)/calibration.json"
	$(VENV)/bin/python -m bench.results generate --time-file "$(BENCH_DIR)/generate.time" \
	  --results "$(BENCH_DIR)/results.json" --extra calibration="$(BENCH_DIR)/calibration.json" \
	  --limit-wall-s 300 --limit-rss-mib 4096
	$(MAKE) bench-ingest
	$(MAKE) bench-warehouse
	$(MAKE) bench-nightly

## make lint: ruff (with Airflow's AIR rules) on the Python, sqlfluff (postgres, dbt's Jinja) on the dbt project
lint: lint-python lint-sql

lint-python: setup
	$(VENV)/bin/ruff check include dags tests bench

lint-sql: setup
	$(VENV)/bin/sqlfluff lint dbt_project

## make bench-ingest: the ingest of the benchmark's first drop against a plain psql \copy of the same files
## (part of make bench; alone it needs the sources make bench generated)
bench-ingest: setup
	/usr/bin/time -v -o "$(BENCH_DIR)/ingest.time" \
	  $(VENV)/bin/python -m bench.ingest --sources "$(BENCH_DIR)/sources" --json "$(BENCH_DIR)/ingest.json"
	$(VENV)/bin/python -m bench.results ingest --time-file "$(BENCH_DIR)/ingest.time" \
	  --results "$(BENCH_DIR)/results.json" --extra ingest="$(BENCH_DIR)/ingest.json" --limit-rss-mib 4096

## make bench-warehouse: dbt build of the warehouse on the first drop (full), then after the second (nightly,
## incremental); dbt's overhead from the server's statement log (part of make bench; needs its sources)
bench-warehouse: setup
	/usr/bin/time -v -o "$(BENCH_DIR)/warehouse.time" \
	  $(VENV)/bin/python -m bench.warehouse --sources "$(BENCH_DIR)/sources" --json "$(BENCH_DIR)/warehouse.json"
	$(VENV)/bin/python -m bench.results warehouse --time-file "$(BENCH_DIR)/warehouse.time" \
	  --results "$(BENCH_DIR)/results.json" --extra warehouse="$(BENCH_DIR)/warehouse.json"

## make bench-nightly: the first night of the benchmark's sources under the live scheduler (`welfare up`), its wall
## time and Airflow's share of it, and its visible dbt build against a plain `dbt build` (limit: 10% more); needs
## the sources make bench generated
bench-nightly: setup
	/usr/bin/time -v -o "$(BENCH_DIR)/nightly.time" \
	  $(VENV)/bin/python -m bench.nightly --sources "$(BENCH_DIR)/sources" --home "$(BENCH_DIR)/nightly-home" \
	  --json "$(BENCH_DIR)/nightly.json"
	$(VENV)/bin/python -m bench.results nightly --time-file "$(BENCH_DIR)/nightly.time" \
	  --results "$(BENCH_DIR)/results.json" --extra nightly="$(BENCH_DIR)/nightly.json"

warehouse-stop:
	-$(VENV)/bin/welfare warehouse stop
