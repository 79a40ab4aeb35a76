# pta_ros developer entry points. Every target bootstraps .venv from requirements.txt first (idempotent).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.pta-installed
DEMO_OUT ?= demo_out
COLCON_WS ?= build/colcon

# Tests and tools talk DDS on this host only, on a per-run domain, with a large shared-memory segment.
export ROS_AUTOMATIC_DISCOVERY_RANGE ?= LOCALHOST
export ROS_DOMAIN_ID ?= $(shell echo $$(( $$$$ % 100 + 1 )))
export FASTDDS_DEFAULT_PROFILES_FILE ?= $(CURDIR)/config/fastdds_shm.xml

.PHONY: all venv demo test pytest colcon-test lint bench clean

all: test

venv: $(STAMP)

$(STAMP): requirements.txt setup.py setup.cfg
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@touch $(VENV)/COLCON_IGNORE   # keep colcon from crawling the venv's share/ folders
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

demo: venv
	$(PY) -m pta_ros.demo --out $(DEMO_OUT)

test: pytest colcon-test

pytest: venv
	$(PY) -m pytest

# The colcon path a ROS user takes, in a scratch workspace, so it cannot rot.
colcon-test: venv
	@mkdir -p build && touch build/COLCON_IGNORE
	source $(VENV)/bin/activate && \
	  colcon --log-base $(COLCON_WS)/log build --base-paths . --build-base $(COLCON_WS)/build \
	    --install-base $(COLCON_WS)/install --symlink-install --event-handlers console_cohesion- && \
	  set +u && source $(COLCON_WS)/install/setup.bash && \
	  colcon --log-base $(COLCON_WS)/log test --base-paths . --build-base $(COLCON_WS)/build \
	    --install-base $(COLCON_WS)/install --event-handlers console_direct+ \
	    --return-code-on-test-failure && \
	  colcon --log-base $(COLCON_WS)/log test-result --test-result-base $(COLCON_WS)/build --all

lint: venv
	$(VENV)/bin/ruff check .

bench: venv
	bash bench/run_all.sh

clean:
	rm -rf build install log $(DEMO_OUT) .pytest_cache .ruff_cache *.egg-info
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +
