# Two commands set everything up: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 90

.PHONY: install install-production demo test lint unit pg browser-deps bench load bench-prefect clean cli-docs

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# A production machine (deploy/README.md): Shuzhi and what it runs on, without the test and bench tools of `.[dev]`.
install-production:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .

demo: $(STAMP)
	$(BIN)/shuzhi demo

# Debian's chromium (and CJK fonts, so screenshots show Chinese) for the browser tests, installed where missing.
browser-deps:
	@{ command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi "noto.*cjk"; } || { \
	  if [ "$$(id -u)" = 0 ]; then (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null) \
	    || echo "could not install chromium: browser tests will skip"; \
	  else echo "chromium missing and not root: browser tests will skip"; fi; }

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

test: $(STAMP) browser-deps lint
	PREFECT_HOME=$$(mktemp -d) $(BIN)/pytest -n 2 --dist loadfile

bench: $(STAMP)
	$(BIN)/python -m bench.run

# The console under load (locust, headless, loopback, PostgreSQL from SHUZHI_BENCH_PG): not part of `make test`.
load: $(STAMP)
	$(BIN)/python -m bench.load_run

# the launch through Prefect (server, two workers) vs the plain CLI, and recovery from a lost worker (SHUZHI_BENCH_SCALE)
bench-prefect: $(STAMP)
	$(BIN)/python -m bench.bench_prefect

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# docs/cli.md from the typer app (tests/cli/test_cli_reference.py fails when it is stale)
cli-docs: $(STAMP)
	$(BIN)/python -m shuzhi_cli.gen_docs
