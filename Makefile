# Égide — the two commands: `make test` and (with the HTTP door) `make run`.
# On a fresh machine, each installs what it needs into .venv first.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# The web interface (docs/web.md): npm ci when the lock file changes, a Vite
# build into src/egide/web/ui/dist when a source or catalogue changes.
FRONTEND     := frontend
NODE_STAMP   := $(FRONTEND)/node_modules/.egide-installed
UI_STAMP     := src/egide/web/ui/dist/.egide-built
FRONTEND_SRC := $(shell find $(FRONTEND)/src $(FRONTEND)/locale $(FRONTEND)/scripts -type f \
                  -not -path '*/generated/*' 2>/dev/null) \
                $(FRONTEND)/index.html $(FRONTEND)/vite.config.js

.PHONY: test run lint typecheck unit install clean bench frontend system

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

$(NODE_STAMP): $(FRONTEND)/package.json $(FRONTEND)/package-lock.json
	cd $(FRONTEND) && npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

$(UI_STAMP): $(NODE_STAMP) $(FRONTEND_SRC)
	cd $(FRONTEND) && npm run --silent build
	touch $(UI_STAMP)

frontend: $(UI_STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# One pytest worker per core (pytest-xdist); work stealing evens out the long
# end-to-end tests. PYTEST_WORKERS=0 runs in one process (easier to debug).
PYTEST_WORKERS ?= auto

# The system parts the tests start for real: ClamAV's clamd (antivirus tests)
# and Debian's Chromium (browser tests). Installed with apt when missing, as
# root; otherwise the command to run is printed.
SYSTEM_PACKAGES = clamav-daemon clamav-testfiles chromium

system:
	@test -x /usr/sbin/clamd -a -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends $(SYSTEM_PACKAGES) >/dev/null; \
	  else \
	    echo "clamd or chromium is missing: run sudo apt-get install -y" \
	      "--no-install-recommends $(SYSTEM_PACKAGES)"; exit 1; \
	  fi; }

unit: $(STAMP) frontend system
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal

test: lint typecheck unit

# Serve Égide on http://127.0.0.1:8000; the first start creates ./egide-data.
run: $(STAMP) frontend
	$(BIN)/egide serve

bench: $(STAMP)
	$(BIN)/python benchmarks/crypto_throughput.py
	$(BIN)/python benchmarks/http_throughput.py
	$(BIN)/python benchmarks/audit.py
	$(BIN)/python benchmarks/rollback.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
