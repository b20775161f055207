# Quick start: `make run` (install + the whole double CNN on embedded/synthetic data) and
# `make test` (install + the default test suite). Everything lives in ./.venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
RUN    ?= runs/demo
PYTEST_ARGS ?=

.PHONY: install test test-slow run bench bench-env bench-real clean

install: $(STAMP)

# Reinstall only when the dependency list changes; `pip install -e` makes code edits live.
$(STAMP): setup.cfg pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

test-slow: install
	$(BIN)/python -m pytest -q -m slow $(PYTEST_ARGS)

run: install
	PATH=$(CURDIR)/$(BIN):$$PATH bash scripts/run_demo.sh $(RUN)

bench: install bench-env
	$(BIN)/python benchmarks/convert.py
	$(BIN)/python benchmarks/pipeline.py

# Peers that must not meet the product's dependencies: MediaPipe 0.10.21 (the last wheel that
# ships its pose model) pins numpy < 2 and protobuf < 5, so it gets its own environment.
# AlbumentationsX 2.5 imports PyTorch at start-up: its own environment too.
BENCH_MEDIAPIPE := .bench-mediapipe
BENCH_ALBUMENTATIONS := .bench-albumentations
bench-env:
	test -d $(BENCH_MEDIAPIPE) || $(PYTHON) -m venv $(BENCH_MEDIAPIPE)
	$(BENCH_MEDIAPIPE)/bin/pip install --quiet "mediapipe==0.10.21"
	test -d $(BENCH_ALBUMENTATIONS) || $(PYTHON) -m venv $(BENCH_ALBUMENTATIONS)
	$(BENCH_ALBUMENTATIONS)/bin/pip install --quiet "torch==2.13.0" "albumentationsx[headless]==2.5.1"

# On the real photos (../shared/lspet converted to tfrecords/lspet160, see README).
bench-real: install bench-env
	$(BIN)/python benchmarks/predict.py
	$(BIN)/python benchmarks/litert.py

clean:
	rm -rf $(VENV) runs exports out tfrecords/*/
