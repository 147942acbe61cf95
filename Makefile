# Two commands on a fresh machine:  `make demo`  and  `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --disable-pip-version-check -q -c constraints.txt

$(VENV)/bin/python:
	python3 -m venv $(VENV)

$(VENV)/.local: pyproject.toml constraints.txt | $(VENV)/bin/python
	$(PIP) -e '.[local]'
	touch $@

$(VENV)/.dev: pyproject.toml constraints.txt | $(VENV)/bin/python
	$(PIP) -e '.[dev]'
	touch $@ $(VENV)/.local

$(VENV)/.bench: pyproject.toml constraints.txt | $(VENV)/bin/python
	$(PIP) -e '.[bench]'
	touch $@

.PHONY: demo test lint bench bench-smoke clean
demo: $(VENV)/.local
	$(VENV)/bin/artifact-backup demo

lint: $(VENV)/.dev
	$(PY) -m ruff check .

test: $(VENV)/.dev lint
	$(PY) -m pytest

bench: $(VENV)/.bench
	$(PY) -m bench

bench-smoke: $(VENV)/.bench
	$(PY) -m bench --smoke

clean:
	rm -rf $(VENV) cdk.out .pytest_cache

# The client's and the contract's unit tests, and an end-to-end upload and download, under the
# official Windows CPython run by Wine (installed into .wine-lane/ on first use): tests/windows/lane.py.
.PHONY: test-windows
test-windows: $(VENV)/.dev
	$(PY) -m tests.windows.lane
