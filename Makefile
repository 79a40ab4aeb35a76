# pta_ros developer entry points. Every target bootstraps .venv from requirements.txt first (idempotent);
# test-jazzy bootstraps .venv-jazzy from requirements-jazzy.txt.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.pta-installed
JAZZY_VENV ?= .venv-jazzy
JAZZY_STAMP := $(JAZZY_VENV)/.pta-installed
DEMO_OUT ?= demo_out
COLCON_WS ?= build/colcon

# The DDS environment (host-only discovery, a domain per run, the shared-memory profile under the
# variable the installed Fast DDS reads) is set where the processes start: test/conftest.py and the
# tools, through pta_ros/dds.py. Jazzy's Fast DDS reads another variable than Kilted's, so one export
# here could not serve both.
RUNS ?= 30

.PHONY: all venv demo test pytest quick colcon-test test-jazzy soak-tests lint bench clean

all: test

venv: $(STAMP)

# venv_install(VENV, REQUIREMENTS): create the venv if needed, install the pins and the project (editable).
define venv_install
	@test -x $(1)/bin/python || $(PYTHON) -m venv $(1)
	@touch $(1)/COLCON_IGNORE   # keep colcon from crawling the venv's share/ folders
	$(1)/bin/python -m pip install --quiet --disable-pip-version-check -r $(2)
	$(1)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(1)/.pta-installed
endef

$(STAMP): requirements.txt requirements-base.txt setup.py setup.cfg
	$(call venv_install,$(VENV),requirements.txt)

$(JAZZY_STAMP): requirements-jazzy.txt requirements-base.txt setup.py setup.cfg
	$(call venv_install,$(JAZZY_VENV),requirements-jazzy.txt)

demo: venv
	$(PY) -m pta_ros.tools.demo --out $(DEMO_OUT)

# Every test once per distribution: the whole suite under colcon on Kilted (as a ROS user's
# `colcon test`), the tests that touch ROS under colcon on Jazzy.
test: colcon-test test-jazzy

# Quick local runs: the whole suite without colcon, or the tests not marked slow (under a minute).
pytest: venv
	$(PY) -m pytest

quick: venv
	$(PY) -m pytest -m "not slow"

# The colcon path a ROS user takes, in a scratch workspace, so it cannot rot.
# colcon_test(VENV, WORKSPACE, PYTEST_ARGS)
define colcon_test
	@mkdir -p build && touch build/COLCON_IGNORE
	source $(1)/bin/activate && \
	  colcon --log-base $(2)/log build --base-paths . --build-base $(2)/build \
	    --install-base $(2)/install --symlink-install --event-handlers console_cohesion- && \
	  set +u && source $(2)/install/setup.bash && \
	  colcon --log-base $(2)/log test --base-paths . --build-base $(2)/build \
	    --install-base $(2)/install --event-handlers console_direct+ \
	    --return-code-on-test-failure $(3) && \
	  colcon --log-base $(2)/log test-result --test-result-base $(2)/build --all
endef

colcon-test: venv
	$(call colcon_test,$(VENV),$(COLCON_WS))

# Jazzy (LTS): the tests that touch ROS (marker `ros`, test/conftest.py), built and run by colcon on
# Jazzy's wheels. The pure-core tests do not depend on the distribution and run once, above.
test-jazzy: $(JAZZY_STAMP)
	$(call colcon_test,$(JAZZY_VENV),$(COLCON_WS)-jazzy,--pytest-args -m ros)

# The ROS subset RUNS times on each distribution with both cores kept busy; passes per test.
soak-tests: venv $(JAZZY_STAMP)
	$(PY) bench/soak_tests.py --runs $(RUNS)

lint: venv
	$(VENV)/bin/ruff check .

bench: venv
	bash bench/run_all.sh

clean:
	rm -rf build install log soak_out $(DEMO_OUT) .pytest_cache .ruff_cache *.egg-info
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +
