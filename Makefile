# Égide — the two commands: `make test` and (with the HTTP door) `make run`.
# On a fresh machine, each installs what it needs into .venv first.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: test run lint typecheck unit install clean bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# One pytest worker per core (pytest-xdist); work stealing evens out the long
# end-to-end tests. PYTEST_WORKERS=0 runs in one process (easier to debug).
PYTEST_WORKERS ?= auto

unit: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal

test: lint typecheck unit

# Serve Égide on http://127.0.0.1:8000; the first start creates ./egide-data.
run: $(STAMP)
	$(BIN)/egide serve

bench: $(STAMP)
	$(BIN)/python benchmarks/crypto_throughput.py
	$(BIN)/python benchmarks/http_throughput.py
	$(BIN)/python benchmarks/audit.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
