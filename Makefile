# The two commands of the README, and the steps they stand on. A fresh machine needs nothing else.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
GRID ?= ablations/ftp_prompts.yaml
TEST_WORKERS ?= 2  # pytest-xdist workers of `make test` (tests/conftest.py: files whole, tests/launch on one worker; 0 = no xdist)
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt 2>/dev/null | sha256sum | cut -c1-12)

.PHONY: run test setup wordnet slurm-up slurm-down lint bench clean-results

## run: set up, then run the main job (the flagship grid on the built-in synthetic default)
run: setup
	$(VENV)/bin/bench data prepare
	$(VENV)/bin/bench run --grid $(GRID) --wait

## test: set up (plus the local SLURM test cluster when root), then run the whole test suite
test: setup slurm-up
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -n $(TEST_WORKERS) --durations=25

## setup: the virtualenv with the pinned stack (idempotent: reused when nothing changed) and WordNet
setup: $(STAMP) wordnet

## wordnet: the WordNet 3.0 database of alt's text corpus (Debian's wordnet-base; installed when root + apt)
wordnet:
	@if [ -f "$${BENCH_WORDNET_DIR:-/usr/share/wordnet}/data.noun" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get install -y -qq --no-install-recommends wordnet-base >/dev/null 2>&1 || \
	  { apt-get update -qq && apt-get install -y -qq --no-install-recommends wordnet-base >/dev/null; }; \
	else echo "WordNet is missing: install it as root with 'apt-get install wordnet-base' (alt's text corpus)"; fi

$(STAMP):
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 is needed, found " + sys.version'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[test]'
	$(PY) -c 'import yapf'  # writes yapf's grammar pickles (user cache) now: two pytest-xdist workers importing it first at once can read a half-written one (EOFError)
	rm -f $(VENV)/.installed-*
	touch $@

## slurm-up: start the single-node SLURM cluster used by the tests (root + apt only; skipped otherwise)
slurm-up:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then bash slurm/local/up.sh; \
	else echo "not root or no apt-get: the SLURM tests will be skipped with this reason"; fi

slurm-down:
	bash slurm/local/down.sh

lint:
	$(VENV)/bin/ruff check .

## bench: the benchmark scripts (figures printed, not asserted)
bench: setup
	for f in benchmarks/*.py; do echo "== $$f"; $(PY) $$f || exit 1; done
