# Every target bootstraps what it needs: uv (installed into .tools/ with pip when
# it is not on PATH), then .venv synced from the committed uv.lock.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8000
export UV_COMPILE_BYTECODE := 1

UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := .tools/bin/uv
endif
VENV := .venv
BIN := $(VENV)/bin
# The image's dependencies only: the Lambda cold-start benchmark runs here.
RUNTIME_VENV := .venv-runtime

STACK ?= dev
COMPUTE ?= fargate

.PHONY: help run test test-image test-migrations audit lint format plan bench

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

.tools/bin/uv:
	@echo "uv not found on PATH: installing it into .tools/ with pip"
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen
	@touch $@

run: $(VENV)/.synced ## migrate, then serve on http://127.0.0.1:8000 (HOST/PORT override; SQLite + in-process cache by default)
	HOST=$(HOST) PORT=$(PORT) $(BIN)/python -m service serve

# The token travels in the environment only (make echoes recipes, ps shows argv).
smoke: $(VENV)/.synced ## check a deployed service end to end: SMOKE_TOKEN=… make smoke URL=https://… (or SMOKE_TOKEN_PARAMETER=/ssm/name)
	@test -n "$(URL)" || { echo "usage: SMOKE_TOKEN=… make smoke URL=https://…" >&2; exit 2; }
	$(BIN)/python -m scripts.smoke "$(URL)" $(SMOKE_ARGS)

test: $(VENV)/.synced ## run the whole test suite
	$(BIN)/pytest $(PYTEST_ARGS)

# IMAGE_ENGINE=podman (default: installs podman/runc/debootstrap, stand-ins for
# unreachable base images) or docker (pulls the real base images); see docs/image-tests.md.
# The image's Lambda dependencies (awslambdaric) on the host, for the test of
# the fake Runtime API against the real client.
LAMBDA_VENV := .venv-lambda

$(LAMBDA_VENV)/.synced: pyproject.toml uv.lock | $(UV)
	UV_PROJECT_ENVIRONMENT=$(LAMBDA_VENV) $(UV) sync --frozen --no-default-groups --group lambda
	@touch $@

test-image: $(VENV)/.synced $(LAMBDA_VENV)/.synced ## build both image targets and run them under the task definition's constraints (tests/image/)
	bash scripts/image/prepare.sh
	RUN_IMAGE_TESTS=1 AWSLAMBDARIC_PYTHON=$(abspath $(LAMBDA_VENV))/bin/python $(BIN)/pytest tests/image $(PYTEST_ARGS)

test-migrations: $(VENV)/.synced ## migration lint, then the previous release served on the new schema (PostgreSQL; TEST_DATABASE_URL's server)
	$(BIN)/python -m scripts.migrations.lint
	$(BIN)/python -m scripts.migrations.compat

audit: | $(UV) ## pip-audit of the image's locked runtime dependencies (needs the vulnerability databases: GitHub CI)
	$(PYTHON) -m scripts.audit

lint: $(VENV)/.synced ## ruff lint + format check, mypy strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

plan: $(VENV)/.synced ## offline plan under mocks (STACK=dev|prod COMPUTE=fargate|lambda): resource tree + Mermaid diagram
	$(BIN)/python -m infra.tooling.plan --stack $(STACK) --compute $(COMPUTE)

$(RUNTIME_VENV)/.synced: pyproject.toml uv.lock | $(UV)
	UV_PROJECT_ENVIRONMENT=$(RUNTIME_VENV) $(UV) sync --frozen --no-default-groups
	@touch $@

bench: $(VENV)/.synced $(RUNTIME_VENV)/.synced ## every benchmark in one table of figures, baselines and ratios (PostgreSQL + Redis on 127.0.0.1; installs wrk if missing)
	$(BIN)/python -m bench --cold-python $(RUNTIME_VENV)/bin/python $(BENCH_ARGS)

format: $(VENV)/.synced ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
