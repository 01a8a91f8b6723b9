# Quick start: `make demo` (set up, run the quickstart workflow) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# every distribution of the monorepo that exists in this checkout
DISTS := core $(wildcard plugins/debug_backend plugins/argo_backend plugins/storage_minio plugins/storage_oss plugins/storage_azure plugins/storage_gcs plugins/executor_dispatcher plugins/executor_slurm_vk plugins/ui)
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-fast bench lint services clean

$(STAMP): $(foreach d,$(DISTS),$(d)/pyproject.toml) requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet $(foreach d,$(DISTS),-e $(d)) -r requirements-dev.txt
	touch $(STAMP)

setup: $(STAMP)

# the servers the tests start: RadosGW (S3), Azurite (Azure), fake-gcs-server (GCS)
services: setup
	@if [ -x scripts/setup-rgw.sh ]; then scripts/setup-rgw.sh; fi
	@if [ -x scripts/setup-chromium.sh ]; then scripts/setup-chromium.sh; fi
	@if [ -x scripts/setup-azurite.sh ]; then scripts/setup-azurite.sh $(VENV)/azurite; fi
	@if [ -x scripts/setup-fake-gcs.sh ]; then scripts/setup-fake-gcs.sh $(PY); fi
	@if [ -x scripts/setup-slurm.sh ]; then scripts/setup-slurm.sh; fi

demo: setup
	mkdir -p demo-output
	cd demo-output && ../$(PY) ../examples/quickstart.py

test: setup services
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m "not slow and not needs_rgw"

bench: setup services
	$(PY) benchmarks/run.py

lint: setup
	$(VENV)/bin/ruff check core plugins tests examples benchmarks

clean:
	rm -rf $(VENV) demo-output .bench
