# s01.worker: `make serve` sets everything up and starts the daemon,
# `make test` runs the whole suite. Both create .venv on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The local package index development.ini installs spider packages from.
INDEX := var/index/simple/index.html
INDEX_SOURCES := $(shell find demo recipe -type f \
	\( -name '*.py' -o -name '*.cfg' -o -name '*.txt' -o -name '*.toml' \
	   -o -name '*.rst' -o -name '*.in' \) -not -path '*/build/*' \
	   -not -path '*.egg-info/*')
PYTEST_ARGS ?=
# The ini file `make serve` starts; copy development.ini to change it.
INI ?= development.ini
# `make demo`: where the demo crawl starts, and the development login.
START_URL ?= https://docs.python.org/3/
S01_PASSWORD ?= mgrpw
export S01_PASSWORD

.PHONY: all install index serve demo test soak check-python clean \
	distclean

all: install

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "s01.worker needs Python 3.11 or newer: set PYTHON=..."; exit 1; }

$(STAMP): setup.py pyproject.toml build-constraints.txt | check-python
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip 'setuptools<82' wheel
	$(BIN)/pip install --quiet --build-constraint build-constraints.txt \
	  -e '.[test]'
	touch $@

install: $(STAMP)

$(INDEX): $(STAMP) $(INDEX_SOURCES)
	$(BIN)/python -W "ignore:pkg_resources is deprecated:UserWarning" \
	  -m s01.worker.testing.sdists var/index

index: $(INDEX)

serve: install $(INDEX)
	$(BIN)/pserve $(INI)

demo: install
	$(BIN)/s01-worker demo --start-url '$(START_URL)'

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
