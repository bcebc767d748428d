# desivoid_ml. Every target sets itself up, so `make demo` and `make test` work on a fresh clone.
VENV     := .venv
PY       := $(VENV)/bin/python
DESIVOID := $(VENV)/bin/desivoid
STAMP    := $(VENV)/.installed
TORCH    := torch==2.13.0
RAW      ?= data/raw
GALAXIES ?= 20000
SEED     ?= 42
EPOCHS   ?= 10

.PHONY: setup test test-all demo ingest validate features train embed analyze report bench bench-pipeline lint clean db-stop

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
	$(VENV)/bin/ruff check src tests scripts train.py

ingest: setup
	@if [ -z "$$(ls -A $(RAW) 2>/dev/null)" ]; then \
		$(DESIVOID) synth --out $(RAW) --galaxies $(GALAXIES) --seed $(SEED); fi
	$(DESIVOID) ingest $(RAW)

validate: setup
	$(DESIVOID) validate

features: setup
	$(DESIVOID) features

train: setup
	$(PY) train.py experiment=ae16 trainer.max_epochs=$(EPOCHS)

embed: setup
	$(DESIVOID) embed --run latest

analyze: setup
	$(DESIVOID) analyze

report: setup
	$(DESIVOID) report --run latest

# The whole job on the embedded database and a small synthetic DR1-like set.
demo: setup
	@echo "==> [1/9] database";           $(DESIVOID) db start
	@echo "==> [2/9] synthesise + ingest"; $(MAKE) --no-print-directory ingest
	@echo "==> [3/9] validate";           $(DESIVOID) validate
	@echo "==> [4/9] features";           $(DESIVOID) features
	@echo "==> [5/9] train (ae16, galaxy properties only)"; $(PY) train.py experiment=ae16 trainer.max_epochs=$(EPOCHS) trainer.enable_progress_bar=false
	@echo "==> [6/9] embed";              $(DESIVOID) embed --run latest
	@echo "==> [7/9] void vs wall";       $(DESIVOID) analyze --run latest
	@echo "==> [8/9] similar galaxies";   $(DESIVOID) similar -k 10
	@echo "==> [9/9] report";             $(DESIVOID) report --run latest
	@echo "==> Void Galaxy Finder: run  $(DESIVOID) serve  then open http://127.0.0.1:8050/ (Ctrl-C stops it)"

bench: setup
	$(PY) scripts/bench_ingest.py
	$(PY) scripts/bench_features.py
	$(PY) scripts/bench_stream.py
	$(PY) scripts/bench_vectors.py
	$(PY) scripts/bench_finder.py
	$(PY) scripts/bench_export.py
	$(PY) scripts/bench_profiles.py

# The whole pipeline at N galaxies (default: the DR1 size) on a data folder of its own.
N ?= 6445927
# BENCH_FLAGS=--drop-fastspec when the disk cannot hold both the FITS and the database
BENCH_FLAGS ?=
bench-pipeline: setup
	$(PY) -c "import faiss" 2>/dev/null || $(PY) -m pip install -q -e '.[bench]'
	$(PY) scripts/bench_pipeline.py --galaxies $(N) $(BENCH_FLAGS)

db-stop: setup
	$(DESIVOID) db stop

clean:
	-$(DESIVOID) db stop
	rm -rf $(VENV) data reports logs
