# posekit: two commands for a new user — `make app` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DIR ?= $(CURDIR)/demo-data
PORT ?= 8866
# Where the apps listen: this machine only. HOST=0.0.0.0 serves the network (the token,
# printed in the address, is then what keeps others out: see docs/deploy.md).
HOST ?= 127.0.0.1
# Folders the apps may open and create projects in (POSEKIT_DATA_ROOT; several
# separated by ':'); empty: the home directory. The demo folder is always allowed.
DATA_ROOT ?=
NOTEBOOKS ?= notebooks
PYTEST_ARGS ?=
# Test processes (pytest-xdist): 2 halves the suite's time on 2 cores, since much of it
# waits on browsers, kernels and servers; each test module stays in one process
# (--dist loadfile), so a module's trained model is built once. 0: one process.
TEST_WORKERS ?= 2

.PHONY: venv app demo test lint check-engine-install bench bench-quick docs clean browser-deps screenshots

venv: $(VENV)/.installed

# The package editable with the apps extra, plus the PEP 735 dependency groups for tests
# and docs (`--group` needs pip >= 25.1, hence the upgrade first).
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet --progress-bar off -e ".[apps]" --group test --group docs
	touch $@

demo: venv
	$(BIN)/posekit demo $(DEMO_DIR)

# Serve the Voila apps on the demo project (built if absent): on $(HOST) only, with a
# token (POSEKIT_TOKEN, else a new one), printed with the address of the home app.
# The settings (no file listing, kernels of closed pages shut down, ...) are in
# widgets/serve.py; `make -n app` shows the command.
app: venv demo
	POSEKIT_DEMO_DIR="$(DEMO_DIR)" $(BIN)/python -m posekit.widgets.serve "$(NOTEBOOKS)" --host="$(HOST)" --port="$(PORT)" --data-root="$(DATA_ROOT)"

browser-deps:
	@command -v chromium >/dev/null 2>&1 || test -x /usr/bin/chromium || { \
		echo "posekit: installing Debian chromium for the browser tests"; \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
		else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; fi; }

lint: venv
	$(BIN)/ruff check engine widgets tests benchmarks
	$(BIN)/ruff format --check engine widgets tests benchmarks

# `pip install .` without extras in a fresh venv: the engine and the CLI work, no Jupyter.
check-engine-install:
	.ci/check_engine_install $(PYTHON)

test: venv browser-deps lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=25 $(PYTEST_ARGS)

# Update the committed screenshots in docs/_static/screenshots (the browser tests save
# them there only when POSEKIT_SCREENSHOTS_DIR is set; `make test` writes to /tmp).
screenshots: venv browser-deps
	POSEKIT_SCREENSHOTS_DIR="$(CURDIR)/docs/_static/screenshots" $(BIN)/python -m pytest -m "browser and not slow" tests/browser $(PYTEST_ARGS)

bench: venv
	$(BIN)/python benchmarks/openfield_accuracy.py --out benchmarks/results/openfield_model
	$(BIN)/python benchmarks/video_fps.py --model benchmarks/results/openfield_model/every20
	$(BIN)/python benchmarks/openfield_int8.py
	$(BIN)/python benchmarks/latency.py --model benchmarks/results/openfield_model/every20
	$(BIN)/python benchmarks/distributed.py --model benchmarks/results/openfield_model/every20
	$(BIN)/python benchmarks/behavior_speed.py
	$(BIN)/python benchmarks/behavior_memory.py
	$(BIN)/python benchmarks/memory_demo.py
	$(BIN)/python benchmarks/large_project.py
	$(BIN)/python benchmarks/viewer_open.py
	$(BIN)/python benchmarks/data_efficiency.py

# Short runs of the long benchmarks (a few minutes; figures not meaningful).
bench-quick: venv
	$(BIN)/python benchmarks/data_efficiency.py --quick
	$(BIN)/python benchmarks/behavior_speed.py

docs: venv
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

clean:
	rm -rf $(VENV) docs/_build .pytest_cache
