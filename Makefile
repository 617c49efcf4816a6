# One command sets everything up and runs the demo; one sets everything up and runs the tests.
#   make demo     install into .venv, compile and run a model built in code
#   make test     install into .venv (with the test extras) and run the test suite
#   make samples  run the vendor documentation samples (needs ../shared)
#   make bench    run the benchmarks (not part of the test suite)

PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(PY) -m pip --disable-pip-version-check -q

.PHONY: install install-test demo test samples bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(PIP) install -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

demo: install
	$(PY) examples/demo.py

test: install-test
	$(PY) -m pytest -q

samples: install-test
	$(PY) ../shared/samples/run_samples.py

bench: install-test
	@for script in benchmarks/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
