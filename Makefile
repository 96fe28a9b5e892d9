# roomcast: every target installs what it needs into .venv first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev
SERVE_STAMP := $(VENV)/.installed-serve
CHROMIUM := /usr/bin/chromium
TYPED_PACKAGES := roomcast roomcast_client benchmarks setup.py

.PHONY: install test lint run bench package print-lambda-python clean

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

# The Lambda artifacts: pinned wheels for the functions' runtime and architecture plus
# roomcast's own packages, minus the ways in that are not Lambda's, minus what Lambda never
# runs, compiled to bytecode by the runtime's Python (/var/task and /opt are read-only, so a
# cold start could never write its own). The Python version has one pin: the template's
# `Runtime`. Two zips: the functions' code, and the JWKS layer (cryptography, which only JWKS
# verification imports) that the template attaches only where a JWKS is verified.
LAMBDA_PYTHON_VERSION := $(shell sed -n 's/^ *Runtime: python//p' infra/template.yaml | sort -u)
LAMBDA_PYTHON ?= $(shell for python in python$(LAMBDA_PYTHON_VERSION) \
	"$$(pyenv prefix "$$(pyenv latest $(LAMBDA_PYTHON_VERSION) 2>/dev/null)" 2>/dev/null)/bin/python$(LAMBDA_PYTHON_VERSION)"; do \
	"$$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null \
	| grep -qx '$(LAMBDA_PYTHON_VERSION)' && { echo "$$python"; break; }; done)
LAMBDA_PLATFORM ?= manylinux2014_aarch64
LAMBDA_DIR ?= build/lambda
# entrypoints/ folders of the other ways in: the local gateway (with its page) and the CLI.
NOT_LAMBDA := gateway cli
LAMBDA_ZIP ?= build/roomcast-lambda.zip
# A layer's packages are unpacked under /opt/python, which the runtime puts on sys.path.
LAMBDA_LAYER_DIR ?= build/jwks-layer
LAMBDA_LAYER_ZIP ?= build/roomcast-jwks-layer.zip
# The service models the artifact's clients (DynamoDB, the Management API) and botocore's
# credential chain (STS, SSO, sign-in) load; the other ~430 services' are 21 MB never read.
LAMBDA_BOTOCORE_SERVICES := dynamodb apigatewaymanagementapi sts sso sso-oidc signin
# C and Cython sources, stubs, test packages and test-only modules: nothing Lambda imports.
LAMBDA_STRIPPED := -name '*.c' -o -name '*.h' -o -name '*.cpp' -o -name '*.pyx' -o -name '*.pxd' \
	-o -name '*.pxi' -o -name '*.pyi' -o -name '_testcapi*' -o -path '*/aiohttp/pytest_plugin.py' \
	-o -path '*/aiohttp/test_utils.py'
LAMBDA_PIP := $(PY) -m pip install --quiet --no-deps --no-compile --only-binary=:all: \
	--platform $(LAMBDA_PLATFORM) --implementation cp --python-version $(LAMBDA_PYTHON_VERSION)

package: $(STAMP)
	@test "$(words $(LAMBDA_PYTHON_VERSION))" = 1 || { echo "make package: infra/template.yaml \
	must give every function one python3.X Runtime (found: $(LAMBDA_PYTHON_VERSION))" >&2; exit 1; }
	@test -n "$(LAMBDA_PYTHON)" || { echo "make package: python$(LAMBDA_PYTHON_VERSION) not found. \
	Lambda runs python$(LAMBDA_PYTHON_VERSION) (infra/template.yaml) and the artifact's bytecode \
	must be compiled by that version: install it (e.g. pyenv install $(LAMBDA_PYTHON_VERSION)) \
	or pass LAMBDA_PYTHON=/path/to/python$(LAMBDA_PYTHON_VERSION)." >&2; exit 1; }
	rm -rf $(LAMBDA_DIR) $(LAMBDA_ZIP) $(LAMBDA_LAYER_DIR) $(LAMBDA_LAYER_ZIP)
	$(LAMBDA_PIP) --target $(LAMBDA_DIR) -r infra/lambda-requirements.txt
	$(LAMBDA_PIP) --target $(LAMBDA_LAYER_DIR)/python -r infra/jwks-layer-requirements.txt
	cp -RL roomcast $(LAMBDA_DIR)/
	rm -rf $(LAMBDA_DIR)/bin $(LAMBDA_LAYER_DIR)/python/bin \
		$(foreach way,$(NOT_LAMBDA),$(LAMBDA_DIR)/roomcast/entrypoints/$(way))
	find $(LAMBDA_DIR) $(LAMBDA_LAYER_DIR) -type d \( -name __pycache__ -o -name tests \) \
		-prune -exec rm -rf {} +
	find $(LAMBDA_DIR) $(LAMBDA_LAYER_DIR) -type f \( $(LAMBDA_STRIPPED) \) -delete
	find $(LAMBDA_DIR)/botocore/data -mindepth 1 -maxdepth 1 -type d \
		$(foreach service,$(LAMBDA_BOTOCORE_SERVICES),! -name $(service)) -exec rm -rf {} +
	$(LAMBDA_PYTHON) -m compileall -q --invalidation-mode unchecked-hash \
		-s $(LAMBDA_DIR) -p /var/task $(LAMBDA_DIR)
	$(LAMBDA_PYTHON) -m compileall -q --invalidation-mode unchecked-hash \
		-s $(LAMBDA_LAYER_DIR) -p /opt $(LAMBDA_LAYER_DIR)
	$(PY) -c "import shutil; shutil.make_archive('$(basename $(LAMBDA_ZIP))', 'zip', '$(LAMBDA_DIR)'); \
	shutil.make_archive('$(basename $(LAMBDA_LAYER_ZIP))', 'zip', '$(LAMBDA_LAYER_DIR)')"
	@for zip in $(LAMBDA_ZIP) $(LAMBDA_LAYER_ZIP); do $(PY) -c "import os, sys, zipfile; \
	path = sys.argv[1]; infos = zipfile.ZipFile(path).infolist(); \
	print(f'{path}: {os.path.getsize(path) / 1e6:.1f} MB zipped, ' \
	f'{sum(i.file_size for i in infos) / 1e6:.1f} MB unpacked, bytecode by $(LAMBDA_PYTHON)')" $$zip; done

print-lambda-python:
	@echo $(LAMBDA_PYTHON)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
