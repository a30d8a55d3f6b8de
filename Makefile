# The two commands of the README contract: `make demo` and `make test`.
# Both install what they need on a fresh machine (no AWS account, no credentials).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
NODE := .node/node_modules/.bin/node
INSTALL_STAMP := $(VENV)/.stamp-install

.PHONY: install demo test lint unit synth bench clean browser-deps

WHEELHOUSE_STAMP := .wheelhouse/.stamp

install: $(INSTALL_STAMP) $(NODE) $(WHEELHOUSE_STAMP)

$(INSTALL_STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# jsii (the engine under aws-cdk-lib) runs on Node.js; the machine's Node 20 is end-of-life,
# so a supported Node 22 comes from the npm registry into .node/ (wavectl hands it to jsii).
$(NODE):
	mkdir -p .node
	cd .node && npm install --no-audit --no-fund --loglevel=error node@22 >/dev/null
	$(NODE) --version

# The task functions' third-party packages, built for Lambda (arm64), fetched once here so that
# `wavectl synth` (which bundles them into the asset) needs no network and no Docker.
$(WHEELHOUSE_STAMP): tasks/requirements.txt $(INSTALL_STAMP)
	rm -rf .wheelhouse && mkdir -p .wheelhouse
	$(PY) -m stacks.wheelhouse
	touch $@

# Headless Chromium for the browser test of the local Slack page (Debian packages).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian chromium for the browser test"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "chromium could not be installed: the browser test will be skipped"; }

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# pytest-xdist: one worker per core, a test module per worker at a time (module fixtures stay shared);
# the synth and the demo are shared by the workers (tests/conftest.py). The two 50-database runs of
# issue 14 are two modules (test_db_snapshot_copy_scale_{success,failure}.py), so they run side by side.
test: install browser-deps lint
	TZ=UTC $(VENV)/bin/pytest -q -n auto --dist loadfile

demo: install
	TZ=UTC $(VENV)/bin/wavectl demo --out out/demo

synth: install
	$(VENV)/bin/wavectl synth --out cdk.out

bench: install
	TZ=UTC $(PY) benchmarks/run_all.py

clean:
	rm -rf cdk.out cdk.local.out out .pytest_cache .ruff_cache
