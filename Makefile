# Two commands do all the set-up on a fresh machine with only Python 3.11+:
#   make demo   - create .venv, install realyield, run the offline demo
#   make test   - install the dev extras, run ruff, mypy and pytest
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: demo test lint typecheck unit bench serve clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/realyield demo

serve: $(VENV)/.installed
	$(BIN)/realyield serve

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests benchmarks

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

unit: $(VENV)/.installed-dev
	$(BIN)/pytest -q

test: lint typecheck unit

# every benchmark, on demand (bench_backtest's vectorbt comparison needs `pip install -e '.[bench]'`)
bench: $(VENV)/.installed
	cd benchmarks && for b in import scoring forecast weights indices planner backtest ledger monitor api; do \
	  echo "== bench_$$b"; ../$(BIN)/python bench_$$b.py || exit 1; done
	# 1,000 sweep variants in full; 200 client plans (10,000 in-process: about 45 ms of CPU a client, --skip-sweep --skip-parallel --clients 10000)
	cd benchmarks && echo "== bench_scaleout" && ../$(BIN)/python bench_scaleout.py --clients 200

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-output
