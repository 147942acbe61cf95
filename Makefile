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

# checkov (scans the synthesized templates) pins an older boto3 than this project's, so it gets an
# environment of its own; tests/infra/test_infra_checkov.py runs it from there.
CHECKOV_VERSION := 3.3.30
$(VENV)/.checkov: Makefile | $(VENV)/bin/python
	python3 -m venv $(VENV)/checkov
	$(VENV)/checkov/bin/python -m pip install --disable-pip-version-check -q checkov==$(CHECKOV_VERSION)
	touch $@

$(VENV)/.bench: pyproject.toml constraints.txt | $(VENV)/bin/python
	$(PIP) -e '.[bench]'
	touch $@

.PHONY: demo test lint bench bench-smoke clean
demo: $(VENV)/.local
	$(VENV)/bin/artifact-backup demo

lint: $(VENV)/.dev
	$(PY) -m ruff check .

test: $(VENV)/.dev $(VENV)/.checkov lint
	$(PY) -m pytest

bench: $(VENV)/.bench
	$(PY) -m bench

bench-smoke: $(VENV)/.bench
	$(PY) -m bench --smoke

clean:
	rm -rf $(VENV) cdk.out .pytest_cache
