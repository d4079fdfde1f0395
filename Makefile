# The two set-up commands (README): `make demo` and `make test`. Both create .venv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/.tools/bin:$(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: demo test tools lint unit integration bench ui

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
	$(VENV)/bin/lint-imports

test: $(VENV)/.installed tools lint
	$(PY) -m pytest

bench: $(VENV)/.installed tools
	for b in bench/bench_*.py; do $(PY) $$b || exit 1; done

# The page and the Argo CD extension, from ui/src into controller/ui (package data) and manifests/ui.
ui:
	node scripts/build-ui.mjs
	node --check controller/ui/freightyard-ui.js
	node --check controller/ui/extension-freightyard.js
