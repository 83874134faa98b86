# Every target sets itself up: the virtual environment is created from the requirement files
# on first use and refreshed whenever they change.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help venv lint format typecheck unit test demo invoke clean

help:
	@echo "make demo    - run the whole lifecycle against an embedded EC2 (no AWS account needed)"
	@echo "make test    - lint, type-check and run every test (what CI runs)"
	@echo "make invoke EVENT=events/create.json - deliver one event to the handler"

$(STAMP): requirements-dev.txt provider/requirements.txt
	@echo "==> setting up $(VENV) (first run only)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

test: lint typecheck unit

demo: $(STAMP)
	$(BIN)/python -m local.demo

invoke: $(STAMP)
	@test -n "$(EVENT)" || { echo "usage: make invoke EVENT=events/create.json"; exit 2; }
	$(BIN)/python -m local.invoke $(EVENT)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis .aws-sam
