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

# LocalStack, the stricter second S3 server, in its own Python 3.13 environment; every target
# finds it through ARTIFACT_BACKUP_LOCALSTACK_PYTHON.
LOCALSTACK_VENV ?= .venv-localstack
LOCALSTACK_BASE_PYTHON ?= /root/.pyenv/versions/3.13.0/bin/python3
export ARTIFACT_BACKUP_LOCALSTACK_PYTHON ?= $(abspath $(LOCALSTACK_VENV))/bin/python

$(LOCALSTACK_VENV)/.installed: requirements-localstack.txt constraints-localstack.txt
	test -x $(LOCALSTACK_BASE_PYTHON) || { echo "LocalStack needs Python 3.13: set LOCALSTACK_BASE_PYTHON"; exit 1; }
	$(LOCALSTACK_BASE_PYTHON) -m venv $(LOCALSTACK_VENV)
	$(LOCALSTACK_VENV)/bin/python -m pip install --disable-pip-version-check -q \
		-r requirements-localstack.txt -c constraints-localstack.txt
	touch $@

# The suites run on worker processes (pytest-xdist), each with its own servers and filer: most
# tests wait on a server, a filer thread or a subprocess, so two workers about halve the wall time
# on two cores. PYTEST_WORKERS=0 runs them in this process (easier to debug), as plain `pytest` does.
PYTEST_WORKERS ?= 2
PYTEST_WORKERS_OPTION := $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS))

.PHONY: demo test lint bench bench-smoke clean localstack test-localstack
localstack: $(LOCALSTACK_VENV)/.installed

# The suites that talk to a server, on LocalStack (the strict_s3 tests run only here).
test-localstack: $(VENV)/.dev localstack
	ARTIFACT_BACKUP_S3_BACKEND=localstack $(PY) -m pytest $(PYTEST_WORKERS_OPTION) tests/integration tests/faults tests/hostile

demo: $(VENV)/.local
	$(VENV)/bin/artifact-backup demo

lint: $(VENV)/.dev
	$(PY) -m ruff check .

test: $(VENV)/.dev $(VENV)/.checkov lint
	$(PY) -m pytest $(PYTEST_WORKERS_OPTION)

bench: $(VENV)/.bench
	$(PY) -m bench

bench-smoke: $(VENV)/.bench
	$(PY) -m bench --smoke

clean:
	rm -rf $(VENV) $(LOCALSTACK_VENV) .wine-lane cdk.out .pytest_cache


# The client's and the contract's unit tests, and an end-to-end upload and download, under the
# official Windows CPython run by Wine (installed into .wine-lane/ on first use): tests/windows/lane.py.
.PHONY: test-windows
test-windows: $(VENV)/.dev
	$(PY) -m tests.windows.lane
