# The newcomer's whole setup: `make demo` runs the example pipeline, `make test` runs the checks.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The oldest releases this package claims to support, pinned with what they need.
OLDEST := .ci/constraints-oldest.txt

export AIRFLOW__CORE__UNIT_TEST_MODE := True
export AIRFLOW__CORE__LOAD_EXAMPLES := False

.PHONY: test lint typecheck pytest demo bench test-oldest test-py310 test-py313 dist clean e2e e2e-distributed

$(BIN)/.installed: pyproject.toml $(OLDEST)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]' $(PIP_EXTRA)
	touch $@

test: lint typecheck pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/.installed
	$(BIN)/mypy

pytest: $(BIN)/.installed
	$(BIN)/pytest

demo: $(BIN)/.installed
	$(BIN)/python scripts/demo.py

bench: $(BIN)/.installed
	$(BIN)/python -m benchmarks.run

# A real Airflow (api-server, scheduler, dag-processor, triggerer) on a throwaway home in .e2e/,
# driven through its REST API and a headless browser. Playwright's own browser download cannot
# work here, so it drives Debian's chromium, installed when missing (CI runs as root).
e2e: $(BIN)/.installed-e2e
	command -v chromium >/dev/null || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium)
	$(BIN)/python -m e2e.run

$(BIN)/.installed-e2e: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e '.[e2e]'
	touch $@

# A distributed deployment on this machine, in .e2e-distributed/: PostgreSQL, a Redis broker, moto's
# S3, two triggerers and two Celery workers that reach Airflow only through its API (see
# e2e/distributed/). Debian's postgresql and redis-server are installed when missing (CI runs as root).
e2e-distributed: $(BIN)/.installed-distributed
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql)
	command -v redis-server >/dev/null || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server)
	$(BIN)/python -m e2e.distributed.run

$(BIN)/.installed-distributed: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e '.[distributed]'
	touch $@

# The suite again in a separate virtualenv on the oldest supported Airflow release.
test-oldest:
	$(MAKE) pytest VENV=.venv-oldest PIP_EXTRA='-c $(OLDEST)'

# `make test` again on the oldest and newest Pythons we claim, each in its own virtualenv, with
# the newest patch release pyenv has of each (a missing one fails here, naming the version).
test-py310 test-py313: test-py%:
	version=$$($(PYENV) latest $(PYENV_$*)) && \
	  $(MAKE) test VENV=.venv-py$* PYTHON="$$($(PYENV) root)/versions/$$version/bin/python"

# pyenv from PATH, else where its installer puts it (a non-login shell may not have it on PATH).
PYENV ?= $(shell command -v pyenv || echo $(HOME)/.pyenv/bin/pyenv)
PYENV_310 := 3.10
PYENV_313 := 3.13

dist: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet build twine
	rm -rf dist && $(BIN)/python -m build --outdir dist . && $(BIN)/twine check --strict dist/*

clean:
	rm -rf .venv .venv-oldest .venv-py310 .venv-py313 dist build *.egg-info .demo .bench .e2e .e2e-distributed
