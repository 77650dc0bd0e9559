# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 3000
APP_URL ?= http://localhost:$(PORT)
# Test processes (pytest-xdist): one per core by default; TEST_WORKERS=0 runs the suite in this process.
TEST_WORKERS ?= auto

.PHONY: run test lint typecheck unit bench-ingest clean

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $@

## make run: start the app on http://localhost:3000 with SQLite under ./data and the in-process worker
run: $(VENV)/.installed
	APP_URL=$(APP_URL) $(BIN)/saleor-automation migrate
	APP_URL=$(APP_URL) ALLOW_LOOPBACK_TARGETS=true $(BIN)/saleor-automation serve --host $(HOST) --port $(PORT) --no-migrate

## make test: lint, type-check and run the whole suite in parallel; the summary lists every skip and its reason
test: $(VENV)/.installed lint typecheck
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup -ra $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check saleor_app tests bench

typecheck: $(VENV)/.installed
	$(BIN)/mypy

bench-ingest: $(VENV)/.installed
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
