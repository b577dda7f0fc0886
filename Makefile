# Two commands on a fresh machine: `make run` opens the app, `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
MNIST_DIR := $(abspath ../shared/data/mnist)

.PHONY: run test lint bench screenshots clean

$(VENV)/.installed-run: pyproject.toml requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c requirements.txt -e '.[onnx]'
	touch $@

$(VENV)/.installed-test: pyproject.toml requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c requirements.txt -e '.[test]'
	touch $@

run: $(VENV)/.installed-run
	$(VENV)/bin/mlp-studio

# Tests run headless; full-MNIST tests find the data through MLP_STUDIO_DATA when it exists.
test: $(VENV)/.installed-test
	QT_QPA_PLATFORM=offscreen \
	$(if $(wildcard $(MNIST_DIR)/train-images-idx3-ubyte.gz),MLP_STUDIO_DATA=$(MNIST_DIR)) \
	$(PY) -m pytest -q
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check .

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .

bench: $(VENV)/.installed-test
	QT_QPA_PLATFORM=offscreen MLP_STUDIO_DATA=$${MLP_STUDIO_DATA:-$(MNIST_DIR)} sh -c 'for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done'

clean:
	rm -rf $(VENV) .pytest_cache
