# The README's two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false

.PHONY: demo test test-slow test-faults test-explore lint install clean screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# constraints.txt pins the resolved, tested set (prefect 3.8 needs fastapi <= 0.150).
$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/automl run

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# --durations: the slowest tests, so the suite's ~10-minute budget stays visible.
test: lint
	$(BIN)/python -m pytest -m "not slow and not faults" --durations=15

# Long end-to-end runs (the 2-minute time-budget run, the gate on grown data,
# training under mixed bfloat16 on a CPU, the service with a real Prefect
# server, a distributed search, each data kind end to end); CI runs them too.
test-slow: install
	$(BIN)/python -m pytest -m slow

# Fault injection and load (issue 8): SIGKILL mid-search and mid-publish,
# ENOSPC, corrupted registry files, crashed runs, concurrent predicts and
# runs; real processes throughout. CI runs them too.
test-faults: install
	$(BIN)/python -m pytest -m faults

# Property tests (Hypothesis) under the `explore` profile: ten times the
# examples of `make test`, random, to hunt for inputs nobody thought of
# (FUZZ_EXAMPLES=2000 for a longer hunt). Not run by CI: CI runs the `ci`
# profile (CI=true), derandomized, so a green CI means the same everywhere.
# Turn what it finds into an @example or a plain test (tests/conftest.py).
test-explore: install
	HYPOTHESIS_PROFILE=explore $(BIN)/python -m pytest -m hypothesis \
		--hypothesis-show-statistics

# The README's Prefect UI screenshots (docs/screenshots/); needs Debian's
# chromium (`apt-get install chromium`). Not part of `make test`.
screenshots: install
	$(BIN)/python scripts/screenshot_prefect_ui.py

# Flow overhead and memory benchmarks (issue 7), ~20 min on 2 cores; each
# rewrites its section of benchmarks/RESULTS.md.
.PHONY: bench
bench: install
	$(BIN)/python benchmarks/overhead.py
	$(BIN)/python benchmarks/memory.py

# The quality table (issue 16): each shared dataset with a config that names
# only its data and a 10-minute budget, beside its classical baseline on the
# same split; about an hour on 2 cores. HELDOUT=1 adds generated sets.
.PHONY: bench-quality
bench-quality: install
	$(BIN)/python benchmarks/quality.py $(if $(HELDOUT),--heldout,)

# Image folders bigger than memory (issue 18): generated 2k, 20k and 100k
# 64x64 JPEG folders and a 10k 224x224 one (cached in /tmp/automl-scale,
# ~1 GB), each through `automl validate` and a one-epoch `automl run`, beside
# a bare image_dataset_from_directory + fit of the same model; peak memory
# and wall times. About 1-2 hours on 2 cores; QUICK=1 is a 3-minute smoke run.
.PHONY: bench-scale
bench-scale: install
	$(BIN)/python benchmarks/scale.py $(if $(QUICK),--quick --no-write,)

# Tables read in batches (issue 18): generated text, pixel and long-format
# sequence CSVs (cached in /tmp/automl-scale-tables, ~0.7 GB), each through
# `automl validate` streamed and read whole, and a one-epoch `automl run`
# streamed; peak memory and wall times. About an hour on 2 cores; QUICK=1 is
# a 3-minute smoke run, ALL=1 runs `automl run` on every table.
.PHONY: bench-scale-tables
bench-scale-tables: install
	$(BIN)/python benchmarks/scale_tables.py $(if $(QUICK),--quick --no-write,) $(if $(ALL),--run-all,)

clean:
	rm -rf $(VENV) automl-output .pytest_cache .ruff_cache
