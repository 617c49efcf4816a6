# One command sets everything up and runs the demo; one sets everything up and runs the tests.
#   make demo     install into .venv, compile and run a model built in code
#   make test     install into .venv (with the test extras) and run the test suite
#   make samples  run the vendor documentation samples (needs ../shared)
#   make bench    run the benchmarks (not part of the test suite)

PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(PY) -m pip --disable-pip-version-check -q

.PHONY: install install-test system-deps demo test samples bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml setup.py furiosa/device/emulator/kernels/_native.c | $(VENV)/bin/python
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml setup.py $(VENV)/.installed
	$(PIP) install -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test system-deps

# Debian's redis-server, for the tests of the shared (Redis) compiler cache. Best effort: without
# root or apt the Redis tests are skipped and say why.
system-deps:
	@command -v redis-server >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing redis-server"; \
	    (apt-get install -y -qq redis-server >/dev/null 2>&1 || \
	     (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq redis-server >/dev/null 2>&1)) || \
	    echo "could not install redis-server: the Redis cache tests will be skipped"; \
	  else echo "redis-server not found: the Redis cache tests will be skipped"; fi; }

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
