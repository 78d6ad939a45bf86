# Two commands matter (see README): `make demo` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

.PHONY: venv system demo cluster-demo test test-slow bench
venv: $(STAMP)

# Tesseract (OCR) and poppler come from apt; skipped quietly where we are not root.
system:
	@./scripts/install-system-deps

demo: system $(STAMP)
	./scripts/demo

# The same beyond one machine (issue 17): a throw-away PostgreSQL and SeaweedFS, two node folders of one archive,
# two `dangan serve`, two `dangan worker` and a watcher; the samples filed through them.  KEEP=1 leaves it running
# (`scripts/cluster-demo stop` ends it).
cluster-demo: system $(STAMP)
	$(BIN)/python scripts/cluster-demo $(if $(KEEP),--keep)

# --durations=20: every run ends with its twenty slowest tests (the suite must stay under 10 min on a fresh machine).
# The catalogue-on-PostgreSQL tests use a throw-away server that scripts/pg-test-server starts and stops.
# The suite runs inside scripts/s3-test-server (a throw-away SeaweedFS on loopback for tests/s3, stopped after).
# The watcher tests run in a process of their own: after the rest of the suite in one process, a watcher
# thread now and then waits over a minute for a plain text file (cause not found yet; alone they pass).
test: system $(STAMP)
	$(BIN)/ruff check dangan tests bench
	$(BIN)/mypy dangan/core dangan/repository
	./scripts/pg-test-server $(BIN)/python scripts/s3-test-server run -- $(BIN)/python -m pytest -q --durations=20 --ignore=tests/watch
	$(BIN)/python -m pytest -q tests/watch

test-slow: system $(STAMP)
	$(BIN)/python -m pytest -q -m slow
