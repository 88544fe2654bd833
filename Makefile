# make book | make test | make lab | make clean
# Each target creates .venv and installs what it needs when missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The CPU build of torch, so pip never pulls a multi-GB CUDA build on a laptop or CI.
TORCH_SPEC ?= torch==2.13.0

.PHONY: book test test-fast browser lab clean strip sync venv

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_SPEC)
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $(STAMP)

# Wheels of Colab's package versions (tests/colab_runtime.txt), downloaded once so
# that tests/test_colab.py builds its Colab-like environment with no network.
COLAB_WHEELS := $(VENV)/colab-wheels/.python
$(COLAB_WHEELS): tests/colab_runtime.txt tests/colab_env.py | $(STAMP)
	$(BIN)/python tests/colab_env.py download

# Build the HTML book, executing every chapter at book parameters.
book: $(STAMP)
	$(BIN)/python -m compgen.book build

# Unit tests, every chapter at smoke parameters, and every chapter's claims.
test: $(STAMP) $(COLAB_WHEELS)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest

# Only the browser test, on the book `make book` built (needs chromium).
browser: $(STAMP)
	$(BIN)/python -m pytest tests/test_browser.py --reuse-book

# Everything but the claims (seconds to a few minutes).
test-fast: $(STAMP) $(COLAB_WHEELS)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest -m "not claims and not book and not browser"

lab: $(STAMP)
	test -x $(BIN)/jupyter-lab || $(BIN)/python -m pip install -q jupyterlab
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) chapters/

# Remove outputs from committed notebooks; rewrite setup cells from _config.yml.
strip: $(STAMP)
	$(BIN)/python -m compgen.book strip
sync: $(STAMP)
	$(BIN)/python -m compgen.book sync

clean:
	rm -rf _build .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) node_modules
