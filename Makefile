# Set-up is part of every target: a fresh clone needs only `make demo` or `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.cinemanet-installed

.PHONY: demo test lint install-check bench bench-library clean-venv

$(STAMP): pyproject.toml requirements/base.txt requirements/nodeps.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=24"
	$(BIN)/python -m pip install -q -r requirements/base.txt
	$(BIN)/python -m pip install -q --no-deps -r requirements/nodeps.txt
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	@touch $@

## demo: set up .venv, then tag the bundled sample stills with all 14 concept groups
demo: $(STAMP)
	$(BIN)/cinemanet tag examples/images --format table

## test: set up .venv, then run the test suite (no network, no GPU, ../shared optional)
test: $(STAMP)
	$(BIN)/python -m pytest -q

## install-check: what a user gets: `pip install .` into a fresh venv, pip check, cinemanet tag and
## analyze (needs the package index at install time; also part of `make test`)
install-check: $(STAMP)
	$(BIN)/python -m pytest -q tests/test_pip_install.py

## lint: ruff check and ruff format --check (the configuration is in pyproject.toml)
lint: $(STAMP)
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .

## bench: the benchmark scripts whose figures the README quotes (about 25 minutes)
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_tag.py
	$(BIN)/python benchmarks/bench_shots.py
	$(BIN)/python benchmarks/bench_analyze.py
	$(BIN)/python benchmarks/bench_io.py

## bench-library: catalog/search and web on 1,000,000 synthetic shots, and training speed
## (about 25 minutes: the first run builds the catalog and its ANN index in benchmarks/out/)
bench-library: $(STAMP)
	$(BIN)/python benchmarks/bench_search.py
	$(BIN)/python benchmarks/bench_web.py --catalog benchmarks/out/catalog-1m.sqlite
	$(BIN)/python benchmarks/bench_training.py

clean-venv:
	rm -rf $(VENV)
