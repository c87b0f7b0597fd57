# Set-up and everyday commands. `make run` and `make test` work on a fresh machine with Python 3.11.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
OUT    ?= results/baseline

.PHONY: run test test-faults reliability lint bench docs calibration clean golden

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; set PYTHON=/path/to/python3.11" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

## Run the baseline scenario and print where results, figures and the HTML report are.
run: $(STAMP)
	$(BIN)/ieco run experiments/configs/baseline.toml --out $(OUT) --overwrite --figures
	$(BIN)/ieco report $(OUT)

## Run the whole test suite.
test: $(STAMP)
	$(BIN)/python -m pytest -q

## Fault-injection tests: killed driver and worker, full disk, concurrent resume, Ctrl-C, Ray isolation, 600-step runs.
test-faults: $(STAMP)
	$(BIN)/python -m pytest -q -m faults tests/faults

## Run the bad-input, invariant and fault tests and print their counts (docs/reliability.md).
reliability: $(STAMP)
	IECO_RELIABILITY_REPORT=$(VENV)/reliability.json $(BIN)/python -m pytest -q -m "bad_input or invariant or faults" tests

## Static checks: ruff on everything, mypy (strict) on market/ and agents/.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

## Engine benchmark against per-agent Mesa and the numpy floor (benchmarks/README.md); not part of the tests.
bench: $(STAMP)
	$(BIN)/python -m benchmarks

## Regenerate the parameter reference in docs/parameters.md from the config schema.
docs: $(STAMP)
	$(BIN)/python -m market.config.docs > docs/parameters.md

clean:
	rm -rf $(VENV) results .pytest_cache .ruff_cache

## Calibrate: search the plausible worlds (experiments/configs/uncertainty.toml), write worlds.json and docs/calibration.md.
## 200 draws x 3 seeds + 20 baseline seeds (620 runs, local Ray): 11 min measured on the 2 shared cores (load ~4);
## quick check (about a minute): python -m experiments.calibration --draws 16 --seeds 2 --out /tmp/c --worlds /tmp/c/w.json
calibration: $(STAMP)
	$(BIN)/python -m experiments.calibration

## Regenerate the golden result in tests/golden/ (only when a change of results is intended).
golden: $(STAMP)
	$(BIN)/python tests/golden/regenerate.py

## Serve the browser dashboard of the baseline on http://127.0.0.1:8765/ (ieco dashboard --help for options).
.PHONY: dashboard
dashboard: $(STAMP)
	$(BIN)/ieco dashboard

## Acceptance audit of the baseline on the audit seeds, and which mechanisms bind.
audit: $(STAMP)
	$(BIN)/python -m experiments.audit
	$(BIN)/python -m experiments.binding
.PHONY: audit
