# roomcast: every target installs what it needs into .venv first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev
SERVE_STAMP := $(VENV)/.installed-serve
CHROMIUM := /usr/bin/chromium
TYPED_PACKAGES := domain ports adapters entrypoints roomcast_client benchmarks setup.py

.PHONY: install test lint run bench package clean

install: $(STAMP)

# Everything: tests, linters, Playwright, moto. `.[dev]` includes `.[serve]`, so this
# install also satisfies `make run`.
$(STAMP): pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP) $(SERVE_STAMP)

# Only what `roomcast serve` needs (a fraction of `.[dev]`), so a fresh clone serves fast.
$(SERVE_STAMP): pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[serve]'
	touch $(SERVE_STAMP)

test: $(STAMP) $(CHROMIUM)
	$(PY) -m pytest

# The browser e2e tests drive Debian's Chromium through Playwright (never `playwright
# install`: the network here reaches package registries only). Installed when missing.
$(CHROMIUM):
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy --strict $(TYPED_PACKAGES)
	$(VENV)/bin/cfn-lint infra/template.yaml

bench: $(STAMP)
	$(PY) -m benchmarks.run

run: $(SERVE_STAMP)
	$(VENV)/bin/roomcast serve $(ARGS)

# The Lambda artifact: pinned wheels for python3.12 on arm64 (as infra/template.yaml runs
# them) plus roomcast's own packages, minus the local gateway and its page.
LAMBDA_DIR := build/lambda
LAMBDA_ZIP := build/roomcast-lambda.zip

package: $(STAMP)
	rm -rf $(LAMBDA_DIR) $(LAMBDA_ZIP)
	$(PY) -m pip install --quiet --no-deps --no-compile --only-binary=:all: \
		--platform manylinux2014_aarch64 --implementation cp --python-version 3.12 \
		--target $(LAMBDA_DIR) -r infra/lambda-requirements.txt
	cp -R domain ports adapters entrypoints $(LAMBDA_DIR)/
	rm -rf $(LAMBDA_DIR)/bin $(LAMBDA_DIR)/entrypoints/gateway $(LAMBDA_DIR)/entrypoints/static
	find $(LAMBDA_DIR) -name __pycache__ -type d -prune -exec rm -rf {} +
	$(PY) -c "import shutil; shutil.make_archive('build/roomcast-lambda', 'zip', '$(LAMBDA_DIR)')"
	@du -k $(LAMBDA_ZIP) | awk '{printf "$(LAMBDA_ZIP): %.1f MB\n", $$1 / 1024}'

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
