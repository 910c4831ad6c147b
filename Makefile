# One entry point for every check, used by people and by .ci/run alike.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
CORE_VENV ?= .venv-core

.PHONY: install run test test-core test-compat lint format bench services browser emulators clean

# Python caches compiled modules: a machine-wide PYTHONDONTWRITEBYTECODE=1 would make every
# process (each test server, worker and CLI call) compile opsml's sources again (0.15 s of
# CPU per server start) and pytest rewrite every test module again in each worker.
unexport PYTHONDONTWRITEBYTECODE

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt scripts/install-torch-cpu.sh
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	bash scripts/install-torch-cpu.sh $(PY)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

## Start the server with its UI on the embedded default (./opsml.db and ./opsml_registries).
## Its own light venv: only what the server and its UI need (pip install 'opsml[server]').
RUN_VENV ?= .venv-run

run: $(RUN_VENV)/.installed
	$(RUN_VENV)/bin/opsml server start --host $(HOST) --port $(PORT)

$(RUN_VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(RUN_VENV)
	$(RUN_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(RUN_VENV)/bin/python -m pip install --quiet -c constraints.txt -e '.[server]'
	touch $@

## MLflow 3.17.2 in a venv of its own, for the `opsml import mlflow` tests
## (tests/integration/test_import_mlflow.py): opsml never depends on the mlflow package.
MLFLOW_VENV ?= .venv-mlflow

$(MLFLOW_VENV)/.installed: scripts/mlflow-requirements.txt
	$(PYTHON) -m venv $(MLFLOW_VENV)
	$(MLFLOW_VENV)/bin/python -m pip install --quiet --upgrade pip
	bash -o pipefail -c "$(MLFLOW_VENV)/bin/python -m pip install --quiet \
		-r scripts/mlflow-requirements.txt 2>&1 | { grep -v 'is ignored: it is neither' || true; }"
	touch $@

## The whole test suite (starts PostgreSQL/MariaDB first if they are down), then once more
## against the core install (no optional extras). One pytest worker more than there are
## cores: a third of the suite's time is spent waiting (for server processes, emulators,
## the browser), which the extra worker fills (2 cores: 13.4 min with 3 workers, 15.0 with 2).
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))

test: install services browser emulators $(RUN_VENV)/.installed $(MLFLOW_VENV)/.installed
	$(PY) -m pytest -n $(TEST_WORKERS) -q $(PYTEST_ARGS)
	$(MAKE) test-core

$(CORE_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(CORE_VENV)
	$(CORE_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CORE_VENV)/bin/python -m pip install --quiet -e . pytest pytest-xdist hypothesis
	touch $@

test-core: $(CORE_VENV)/.installed
	OPSML_TEST_CORE_ONLY=1 $(CORE_VENV)/bin/python -m pytest -n $(TEST_WORKERS) -q tests/unit

## OpsML 3.0.0-rc.16's own test suite (../shared/opsml-compat) against opsml, in its own venv
## (pytest 7, TensorFlow, ...). Fails on a test outside scripts/compat-expected.txt that fails,
## and on a listed test that does not (docs/compat.md).
COMPAT_VENV ?= .venv-compat
COMPAT_SUITE ?= ../shared/opsml-compat
COMPAT_JOBS ?= 2
COMPAT_ARGS ?=

$(COMPAT_VENV)/.installed: pyproject.toml constraints.txt scripts/compat-requirements.txt \
		scripts/install-torch-cpu.sh
	$(PYTHON) -m venv $(COMPAT_VENV)
	$(COMPAT_VENV)/bin/python -m pip install --quiet --upgrade pip
	bash scripts/install-torch-cpu.sh $(COMPAT_VENV)/bin/python
	bash -o pipefail -c "$(COMPAT_VENV)/bin/python -m pip install --quiet -c constraints.txt \
		-e '.[all]' -r scripts/compat-requirements.txt 2>&1 | { grep -v 'is ignored: it is neither' || true; }"
	touch $@

test-compat: $(COMPAT_VENV)/.installed
	$(PYTHON) scripts/compat-run.py --python $(COMPAT_VENV)/bin/python --suite $(COMPAT_SUITE) \
		--jobs $(COMPAT_JOBS) $(COMPAT_ARGS)

services:
	bash scripts/services.sh

## Chromium for the web UI's browser tests (tests/e2e), from the distribution's packages.
browser:
	bash scripts/install-browser.sh

## Azurite (the Azure Blob emulator, from npm) for the cloud storage tests; moto's S3 server
## and gcp-storage-emulator come with the dev extra. HAProxy (Debian's package) for the load
## balancer test. oidc-provider (npm) for the single sign-on tests (tests/integration/sso).
emulators: .tools/azurite/.installed .tools/oidc-provider/.installed
	bash scripts/install-haproxy.sh

.tools/azurite/.installed:
	bash scripts/install-emulators.sh
	touch $@

.tools/oidc-provider/.installed: scripts/install-oidc-provider.sh
	bash scripts/install-oidc-provider.sh
	touch $@

lint: install
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff format src tests benchmarks
	$(VENV)/bin/ruff check --fix src tests benchmarks

## Every benchmark in one run: run.py rewrites benchmarks/RESULTS.md whole and marks the other
## sections stale, each script after it replaces its own. A failing script does not stop the
## others (its section stays marked stale); the target fails at the end if any did.
bench: install emulators
	status=0; \
	$(PY) benchmarks/run.py $(BENCH_ARGS) || status=1; \
	for script in service_install experiment_runs cloud_transfer ui_pages server_read app_serving load_balancer; do \
		$(PY) benchmarks/$$script.py || status=1; \
	done; \
	exit $$status

clean:
	rm -rf $(VENV) $(RUN_VENV) $(CORE_VENV) $(COMPAT_VENV) $(MLFLOW_VENV) .bench-venvs .tools .pytest_cache .mypy_cache .ruff_cache
