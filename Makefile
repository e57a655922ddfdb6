# Two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
export WELFARE_HOME ?= $(CURDIR)/.local
export PYTHONDONTWRITEBYTECODE := 1
UV_VERSION := 0.13.8
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
VENV := $(CURDIR)/.venv
DEMO_SOURCES := $(WELFARE_HOME)/demo-sources
DEMO_SCALE ?= 0.2

.PHONY: run test setup bench lint clean-home warehouse-stop

$(UV):
	python3 -m pip install --quiet --user "uv==$(UV_VERSION)" \
	  || python3 -m pip install --quiet --user --break-system-packages "uv==$(UV_VERSION)" \
	  || python3 -m pip install --quiet "uv==$(UV_VERSION)"

setup: $(UV)
	"$$(command -v uv || echo $(HOME)/.local/bin/uv)" sync --frozen --python python3.11
	mkdir -p "$(WELFARE_HOME)"

## make run: generate a small synthetic province and run the real pipeline over it
run: setup
	rm -rf "$(DEMO_SOURCES)"
	$(VENV)/bin/welfare generate --out "$(DEMO_SOURCES)" --scale $(DEMO_SCALE) --seed 60
	$(VENV)/bin/welfare run --sources "$(DEMO_SOURCES)"

## make test: every test, against a real PostgreSQL, real Airflow, real GX and real dbt
test: setup
	$(VENV)/bin/python -m pytest -p no:cacheprovider

bench: setup
	@echo "No benchmarks yet: the scale-1.0 generator, ingest and dbt benchmarks come with issues 3-5." >&2

lint: setup
	$(VENV)/bin/ruff check include dags tests

warehouse-stop:
	-$(VENV)/bin/welfare warehouse stop
