# thuvien: `make demo` runs the demo appliance; `make test` installs what the
# tests need and runs them; `make lint` checks style and the core's types;
# `make bench` runs the benchmarks.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench system-deps lint image clean

$(STAMP): setup.cfg pyproject.toml setup.py
	$(PY) -m venv $(VENV) || { bash scripts/install-system-deps.sh --only python3-venv && \
		rm -rf $(VENV) && $(PY) -m venv $(VENV); }
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,postgres]'
	touch $(STAMP)

$(VENV)/.devices: $(STAMP)
	$(BIN)/pip install -q -e '.[devices]'
	touch $@

# make demo PORT=8090 HOST=0.0.0.0 (the data folder is demo-data/; delete it to start afresh)
PORT ?= 8080
HOST ?= 127.0.0.1
demo: $(STAMP)
	$(BIN)/thuvien demo --host $(HOST) --port $(PORT)

system-deps:
	bash scripts/install-system-deps.sh

# The suite runs on every core (pytest-xdist), a test file whole on one worker;
# `make test TEST_JOBS=0` runs it in one process. The slowest tests are listed at the end:
# the whole run must stay under 15 minutes on a 2-core machine. Three workers on two
# cores, since many tests wait on sleeps, proxies, subprocesses and fsyncs rather than
# the CPU: 12:12 where two took 13:53-15:01 on the same machine (2 December).
TEST_JOBS ?= 3
test: system-deps $(VENV)/.devices
	bash scripts/test-services.sh $(BIN)/python -m pytest -q -n $(TEST_JOBS) --dist loadgroup \
		--durations=15 $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy  # what and how strictly: [tool.mypy] in pyproject.toml

bench: system-deps $(VENV)/.devices
	bash scripts/test-services.sh $(BIN)/python -m bench

image: $(STAMP)
	bash scripts/install-system-deps.sh fdisk dosfstools mtools e2fsprogs
	bash provisioning/image/build.sh

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
