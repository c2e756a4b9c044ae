# chainrule: everything runs inside a local virtual environment (.venv).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: train test test-fast bench bench-quick lint docs fixtures clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-train: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[train]"
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

## train: install chainrule and train the default recipe (a small CNN on the bundled digits)
train: $(VENV)/.installed-train
	$(BIN)/chainrule train

$(VENV)/.installed-docs: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[docs]"
	touch $@

## docs: the documentation site (guides, and the API reference from the docstrings) in site/; warnings are errors
docs: $(VENV)/.installed-docs
	$(BIN)/python docs/gen_reference.py
	$(BIN)/mkdocs build --strict --quiet

## test: install chainrule with its test extras and run the whole suite
test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q

## test-fast: the suite without the tests marked slow
test-fast: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q -m "not slow"

## bench: the side-by-side benchmarks against PyTorch, default configuration first (needs torch==2.13.0 in .venv)
bench: $(VENV)/.installed-test
	cd benchmarks && ../$(BIN)/python overhead.py && ../$(BIN)/python steps.py && ../$(BIN)/python under_load.py

## bench-quick: the same tables with fewer repeats
bench-quick: $(VENV)/.installed-test
	cd benchmarks && ../$(BIN)/python overhead.py && ../$(BIN)/python steps.py --quick \
		&& ../$(BIN)/python under_load.py --rounds 1 --epochs 2

$(VENV)/.installed-lint: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[lint]"
	touch $@

## lint: ruff check and ruff format --check (pinned), the layer contracts (import-linter), mypy over src and examples
lint: $(VENV)/.installed-lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

## fixtures: regenerate the PyTorch reference fixtures (needs torch==2.13.0)
fixtures: $(VENV)/.installed-test
	for script in tests/fixtures/make_*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) build dist site docs/reference src/*.egg-info .pytest_cache .hypothesis
