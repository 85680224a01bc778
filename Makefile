# Everything a fresh machine needs, starting from Python 3 (3.10 or newer, with venv) and make.
# Nothing here may need more: .ci/run runs make test with only /usr/local/bin:/usr/bin:/bin on PATH.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# A clear word instead of a pip resolver error when python3 is too old.
CHECK_PYTHON = $(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null \
	|| { echo "chaos-layer needs Python 3.10 or newer as $(PYTHON) (choose another with PYTHON=...)" >&2; exit 1; }

.PHONY: docs venv test lint typecheck unit pytest demo bench bench-fleet clean layer dist template-lint sam-venv sam-check bench-layer bench-sources schema

$(STAMP): pyproject.toml
	@$(CHECK_PYTHON)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[cli,dev,docs]'
	touch $(STAMP)

venv: $(STAMP)

# The AWS SAM CLI pins its own boto3, so it lives in a venv of its own.
SAM_VENV := .venv-sam
SAM_STAMP := $(SAM_VENV)/.installed-stamp
SAM := SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam

$(SAM_STAMP):
	@$(CHECK_PYTHON)
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
	$(BIN)/cfn-lint integrations/fis/template.yaml

# The example function is built by examples/hello/Makefile (BuildMethod: makefile), so sam build
# needs only make, whatever Python the machine has. The layer is the prebuilt zip.
sam-check: $(SAM_STAMP) layer
	$(SAM) validate --lint --region us-east-1 --template template.yaml
	$(SAM) build --template template.yaml --build-dir build/sam
	cmp examples/hello/app.py build/sam/HelloFunction/app.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# The fast tests, for a quick check while working: tests/unit less those marked slow.
unit: $(STAMP)
	$(BIN)/pytest -m "not slow" tests/unit

# The whole suite, one pytest-xdist worker per core (PYTEST_WORKERS=0 runs it in one process);
# an idle worker takes over tests queued for a busy one (worksteal): a few e2e tests take a minute.
PYTEST_WORKERS ?= auto
pytest: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal

test: lint typecheck pytest docs template-lint sam-check

# site/: the documentation site, built offline; --strict turns a broken link or anchor into an error.
# Where Chromium is installed, the build first photographs a real run's report (docs/_hooks).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

# chaos_layer/schema.json and the docs' reference tables, from the declarations
schema: $(STAMP)
	$(BIN)/python -m chaos_layer.cli.reference

demo: layer
	$(BIN)/python examples/demo.py

# warm overheads next to a no-op functools.wraps wrapper, the first injection against later ones, ...
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

# a fleet sharing one account's SSM read quota: the library's own code on a virtual clock
# SSM fleets (the library's own cache on a virtual clock), then the S3 and AppConfig rows
bench-fleet: $(STAMP)
	$(BIN)/python benchmarks/fleet.py
	$(BIN)/python benchmarks/fleet_sources.py

# cold-start cost of the layer as Lambda loads it (read-only, no bytecode written), for every
# Python 3.10-3.14 found here: zero-code mode, decorator mode, import chaos_layer over boto3
bench-layer: $(STAMP)
	$(BIN)/python benchmarks/layer_import.py

# S3 and AppConfig at fleet scale: reads per second and cost per month (the fleet benchmark's rows)
bench-sources: $(STAMP)
	$(BIN)/python benchmarks/fleet_sources.py

clean:
	rm -rf $(VENV) $(SAM_VENV) dist build site docs/images .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis
