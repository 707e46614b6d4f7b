# Two commands for a newcomer: `make demo` and `make test`. Everything else is a helper.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

PORT ?= 8000

.PHONY: demo demo-port test test-fast test-all lint typecheck format browser-deps migration-reset clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# Chromium for the Playwright browser tests comes from Debian (Playwright cannot download browsers here).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium missing: run 'sudo apt-get install -y chromium' (browser tests will be skipped)"; fi; }

# The port is checked before anything is built (the demo checks it again before serving).
demo-port:
	@$(PYTHON) -c 'import socket,sys; s=socket.socket(); p=int(sys.argv[1]); \
	  r=s.connect_ex(("127.0.0.1",p)); s.close(); \
	  sys.exit(0) if r else sys.exit(f"make demo: port {p} on 127.0.0.1 is busy; choose another, e.g. make demo PORT={p+1}")' $(PORT)

demo: demo-port $(STAMP)
	$(BIN)/python -m tracker.ops.demo --port $(PORT)

test: $(STAMP) browser-deps
	$(BIN)/python -m pytest -q -n 2

# Everything but the slow and the browser tests (markers in pyproject.toml): the quick loop.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 -m "not slow and not browser"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Types of the three packages ([tool.mypy] in pyproject.toml); CI runs it with lint.
typecheck: $(STAMP)
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Regenerate the initial migration from tracker.db.models (only while no release exists).
migration-reset: $(STAMP)
	$(BIN)/python -m tracker.ops.devtools regen-initial-migration

clean:
	rm -rf $(VENV) var test-output .pytest_cache
