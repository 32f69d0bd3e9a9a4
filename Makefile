# s01.worker: `make serve` sets everything up and starts the daemon,
# `make test` runs the whole suite. Both create .venv on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: all install serve test soak check-python clean distclean

all: install

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "s01.worker needs Python 3.11 or newer: set PYTHON=..."; exit 1; }

$(STAMP): setup.py pyproject.toml | check-python
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip 'setuptools<82' wheel
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(STAMP)

serve: install
	$(BIN)/pserve development.ini

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

# The long runs of docs/operations.rst: the fault suite with 20 kills,
# then 50 clients for 60 s against a daemon of its own.
soak: install
	S01_KILL_ROUNDS=20 $(BIN)/pytest -rA --timeout 3600 tests/faults \
	  $(PYTEST_ARGS)
	$(BIN)/python bench/load.py --clients 50 --seconds 60

clean:
	rm -rf build dist test-output .coverage .pytest_cache
	find src tests -name __pycache__ -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) var
