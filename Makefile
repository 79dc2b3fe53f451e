# Consentry's one task runner. `make run` and `make test` are all a fresh machine needs.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
MANAGE := $(PY) manage.py
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed

# `make test` runs against the real PostgreSQL and RabbitMQ of this machine.
TEST_ENV := CONSENTRY_ENV=test \
	DATABASE_URL=$${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/consentry} \
	CELERY_BROKER_URL=$${TEST_BROKER_URL:-amqp://guest:guest@127.0.0.1:5672//} \
	CELERY_QUEUE=consentry-test

.PHONY: run run-port-free test check lint typecheck import-contracts migrations-check pytest services demo-key format clean \
	system-packages test-system-packages

$(RUNTIME_STAMP): requirements.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

# The client's optional cluster engines (Ray, PySpark) too: the tests run them on a local cluster.
$(DEV_STAMP): $(RUNTIME_STAMP) requirements-dev.txt requirements-cluster.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt -r requirements-cluster.txt
	touch $@

var/broker:
	mkdir -p var/broker/queue var/broker/processed var/media

## system-packages: the Debian packages the project needs (ExifTool; chromium for `make test`).
system-packages:
	.ci/system-packages

## run: set up, migrate, load the demo data, start the web server and a Celery worker (SQLite);
## `make run PORT=8001` serves on another port.
PORT ?= 8000
run: run-port-free $(RUNTIME_STAMP) system-packages var/broker
	$(MANAGE) create_database
	$(MANAGE) migrate --noinput
	CONSENTRY_PUBLIC_URL="$${CONSENTRY_PUBLIC_URL:-http://127.0.0.1:$(PORT)}" \
		$(MANAGE) run_demo --port $(PORT)

# A taken port is said before anything long (the virtualenv), so with the system's Python.
run-port-free:
	@$(PYTHON) -m registry.devrun check-port $(PORT)

## demo-key: issue another API key to the demo AI team.
demo-key: $(RUNTIME_STAMP)
	$(MANAGE) create_api_key --organization "Demo AI Lab"

## services: make sure PostgreSQL and Redis answer (starts them if they are installed but down).
services:
	.ci/services

## test: lint, type-check, check migrations, then run the test suite on PostgreSQL.
test: $(DEV_STAMP) services test-system-packages check pytest

test-system-packages:
	.ci/system-packages
	.ci/install-browser

check: lint typecheck import-contracts migrations-check

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(DEV_STAMP)
	$(VENV)/bin/mypy .

## import-contracts: the layers (pyproject.toml, [tool.importlinter]): plain packages import no
## Django, selectors no services, commands no models.
import-contracts: $(DEV_STAMP)
	$(VENV)/bin/lint-imports

migrations-check: $(DEV_STAMP)
	$(MANAGE) makemigrations --check --dry-run

pytest: $(DEV_STAMP)
	$(TEST_ENV) $(VENV)/bin/pytest $(PYTEST_ARGS)

format: $(DEV_STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache .import_linter_cache

# --- Proofs that a deployment holds: slow, so never part of `make test` ---------------------------
# Tools that drive the project over HTTP or read its requirement files live in their own
# virtualenv under var/, so their dependencies never meet the project's.
TOOLS_VENV := var/tools-venv
TOOLS_STAMP := $(TOOLS_VENV)/.installed
TOOLS := locust==2.47.0 schemathesis==4.32.5 pip-audit==2.10.1
FUZZER := atheris==3.0.0

.PHONY: test-slow fuzz schemathesis load audit prod-check

$(TOOLS_STAMP):
	test -d $(TOOLS_VENV) || $(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/pip install --quiet $(TOOLS)
	touch $@

## test-slow: the production processes under faults (worker killed, broker and PostgreSQL restarted),
## and `make run`'s server and worker started for real; ~6 min.
test-slow: $(DEV_STAMP) services
	$(TEST_ENV) $(VENV)/bin/pytest tests/faults tests/test_embedded_default.py -m slow -rA \
		-p no:cacheprovider $(PYTEST_ARGS)

## fuzz: 100,000 mutated images through decoding, fingerprinting and metadata reading, then the bombs; ~5 min.
fuzz: $(DEV_STAMP)
	$(PY) -c "import atheris" 2>/dev/null || $(PY) -m pip install --quiet $(FUZZER)
	$(PY) -m bench.fuzz $(FUZZ_ARGS)
	$(PY) -m bench.fuzz.bombs

## schemathesis: every operation of /api/v1/schema, as an organization and as an artist.
schemathesis: $(DEV_STAMP) $(TOOLS_STAMP) services
	$(PY) -m bench.schema_fuzz $(SCHEMATHESIS_ARGS)

## load: locust against gunicorn and a worker on a 1,000,000-work registry (seeded once, ~7 min).
load: $(DEV_STAMP) $(TOOLS_STAMP) services
	$(PY) -m bench.load $(LOAD_ARGS)

## audit: known vulnerabilities in the pinned requirements (pip-audit, PyPI's advisory data).
audit: $(TOOLS_STAMP)
	$(TOOLS_VENV)/bin/pip-audit --strict --progress-spinner off \
		-r requirements.txt -r requirements-dev.txt -r requirements-cluster.txt

## prod-check: Django's deployment checks with the production settings (throwaway secrets unless set).
prod-check: $(RUNTIME_STAMP)
	CONSENTRY_ENV=production \
	DJANGO_SECRET_KEY="$${DJANGO_SECRET_KEY:-$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')}" \
	DATABASE_URL="$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/consentry}" \
	CELERY_BROKER_URL="$${CELERY_BROKER_URL:-redis://127.0.0.1:6379/0}" \
	DJANGO_ALLOWED_HOSTS="$${DJANGO_ALLOWED_HOSTS:-consentry.example.org}" \
	CONSENTRY_RECEIPT_SIGNING_KEY="$${CONSENTRY_RECEIPT_SIGNING_KEY:-$$($(PY) -c 'from registry.receipts import new_private_pem; print(new_private_pem().decode())')}" \
	$(MANAGE) check --deploy --fail-level WARNING
