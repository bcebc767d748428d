# desivoid_ml: every target sets itself up; `make demo` and `make test` work on a fresh clone.
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
TORCH   := torch==2.13.0
RAW     ?= data/raw
GALAXIES ?= 20000
SEED    ?= 42

.PHONY: setup test test-all demo ingest validate bench lint clean db-stop

setup: $(STAMP)

# torch first, from the CPU wheel on disk, so nothing later pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

test: setup
	$(PY) -m pytest -q

test-all: setup
	$(PY) -m pytest -q -m ''

lint: setup
	$(VENV)/bin/ruff check src tests scripts

ingest: setup
	@if [ -z "$$(ls -A $(RAW) 2>/dev/null)" ]; then \
		$(VENV)/bin/desivoid synth --out $(RAW) --galaxies $(GALAXIES) --seed $(SEED); fi
	$(VENV)/bin/desivoid ingest $(RAW)

validate: setup
	$(VENV)/bin/desivoid validate

demo: ingest
	$(VENV)/bin/desivoid validate

bench: setup
	$(PY) scripts/bench_ingest.py

db-stop: setup
	$(VENV)/bin/desivoid db stop

clean:
	rm -rf $(VENV) data reports
