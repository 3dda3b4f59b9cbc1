# Two commands for a new user: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: run test test-fast install sample-eval clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch first and pinned: anything else would pull a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[torch,learn,dev]'
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/recommender ingest data/sample/articles
	$(BIN)/recommender serve --host 127.0.0.1 --port $(PORT)

# Two workers (one per core; three were slower), fed test by test, except that a module sharing a
# module-scoped fixture (a server, a browser page) stays on one worker; they share the ingested sample
# database (tests/conftest.py).
# The browser tests drive Debian's Chromium (Playwright cannot download its own browser here); their
# accessibility checks load axe-core, pinned in tests/browser/axe/package-lock.json.
# The storage and API tests also run on PostgreSQL + pgvector, started (and on first use installed) by
# scripts/start_postgres.sh on 127.0.0.1; when it cannot start, those runs are skipped with the reason.
test: install
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)
	@bash scripts/start_postgres.sh >/dev/null || echo "PostgreSQL could not be started: its test runs will be skipped"
	@cd tests/browser/axe && (npm ci --no-audit --no-fund --silent || echo "npm ci failed: the axe-core checks will be skipped")
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup --no-loadscope-reorder

# The fast lane: everything that needs neither the real model, PostgreSQL nor a browser (fake encoder,
# SQLite files, in-process apps). Markers are set from each test's fixtures (tests/conftest.py).
test-fast: install
	$(BIN)/python -m pytest -q -m "not slow and not postgres and not browser"

# Regenerate data/sample/eval/{corpus,queries}.jsonl from the articles.
sample-eval: install
	$(BIN)/python scripts/make_sample_eval.py

clean:
	-bash scripts/stop_postgres.sh
	rm -rf var .cache .pytest_cache
