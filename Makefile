# Everything a fresh machine needs, starting from Python 3 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: venv test lint typecheck unit demo bench clean layer dist template-lint sam-venv sam-check bench-layer

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[cli,dev]'
	touch $(STAMP)

venv: $(STAMP)

# The AWS SAM CLI pins its own boto3, so it lives in a venv of its own.
SAM_VENV := .venv-sam
SAM_STAMP := $(SAM_VENV)/.installed-stamp
SAM := SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam

$(SAM_STAMP):
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet 'aws-sam-cli>=1.120'
	touch $(SAM_STAMP)

sam-venv: $(SAM_STAMP)

# dist/chaos-layer.zip: the Lambda layer (python/chaos_layer/... and the /opt/chaos-layer wrapper)
layer: $(STAMP)
	$(BIN)/python layer/build.py

# dist/chaos_layer-VERSION.tar.gz and dist/chaos_layer-VERSION-py3-none-any.whl, what pip installs
dist: $(STAMP)
	rm -f dist/chaos_layer-*
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/chaos_layer-*

template-lint: $(STAMP)
	$(BIN)/cfn-lint template.yaml

# sam build needs a python3.12: on PATH, or the newest 3.12 that pyenv has.
sam-check: $(SAM_STAMP) layer
	$(SAM) validate --lint --region us-east-1 --template template.yaml
	@py312=$$(python3.12 -c 'import os, sys; print(os.path.dirname(sys.executable))' 2>/dev/null \
		|| ls -d "$$(pyenv root 2>/dev/null)"/versions/3.12*/bin 2>/dev/null | tail -n 1); \
	if [ -z "$$py312" ]; then echo "sam build needs a python3.12 on PATH" >&2; exit 1; fi; \
	echo "sam build (python3.12 from $$py312)"; \
	PATH="$$py312:$$PATH" $(SAM) build --template template.yaml --build-dir build/sam

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

test: lint typecheck unit template-lint sam-check

demo: layer
	$(BIN)/python examples/demo.py

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

# cold-start cost of the layer: handler import time in a fresh process
bench-layer: $(STAMP)
	$(BIN)/python benchmarks/layer_import.py

clean:
	rm -rf $(VENV) $(SAM_VENV) dist build .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis
