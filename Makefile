# The two set-up commands (README): `make demo` and `make test`. Both create .venv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/.tools/bin:$(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: demo test tools lint unit integration bench images ui

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/freightyard demo

tools:
	bash scripts/install-tools.sh

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy --config-file tests/mypy.ini
	$(VENV)/bin/lint-imports

test: $(VENV)/.installed tools lint
	$(PY) -m pytest

bench: $(VENV)/.installed tools
	for b in bench/bench_*.py; do $(PY) $$b || exit 1; done

# Fast tests: no servers, no external tools. PATH holds only the venv, so a unit test that reaches for
# git, helm, kubectl or a registry fails (CI=true turns the skip into a failure) instead of passing by luck.
unit: $(VENV)/.installed
	env PATH=$(CURDIR)/$(VENV)/bin FREIGHTYARD_TOOLS_DIR=/nonexistent CI=true $(PY) -m pytest -q -m unit

# Real git, registry, helm, kustomize and the Kubernetes emulator on loopback.
integration: $(VENV)/.installed tools
	$(PY) -m pytest -q -m integration

# One image per component, all from ./Dockerfile (one target each); tags follow the package version.
# Needs a Docker engine with BuildKit (none on the development machine; tests/test_images.py checks the mapping).
VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' freightyard/__init__.py)
IMAGES := generator=ghcr.io/freightyard/generator cmp=ghcr.io/freightyard/freightyard-cmp controller=ghcr.io/freightyard/controller

images:
	for spec in $(IMAGES); do \
		docker build --platform linux/amd64 --target "$${spec%%=*}" -t "$${spec#*=}:$(VERSION)" . || exit 1; \
	done

# The page and the Argo CD extension, from ui/src into controller/ui (package data) and manifests/ui.
ui:
	node scripts/build-ui.mjs
	node --check controller/ui/freightyard-ui.js
	node --check controller/ui/extension-freightyard.js
