# Every target sets itself up: the virtual environment is created from the requirement files
# on first use and refreshed whenever they change.
PYTHON ?= python3
ROOT   := $(dir $(abspath $(firstword $(MAKEFILE_LIST))))
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The demos and make invoke run from a lighter environment: what they import, and no test,
# lint or type tools (requirements-demo.txt; make test installs those into .venv).
DEMO_VENV  := .venv-demo
DEMO_BIN   := $(DEMO_VENV)/bin
DEMO_STAMP := $(DEMO_VENV)/.installed

# SAM CLI sends no telemetry from any target here (and prints no notice about it).
export SAM_CLI_TELEMETRY := 0

SAM_VENV     := .venv-sam
CHECKOV_VENV := .venv-checkov
TEMPLATES    := template.yaml examples/consumer.yaml examples/member-role.yaml examples/member-session.yaml \
	examples/fleet.yaml examples/member-events.yaml examples/stacksets-member.yaml

.PHONY: help venv lint format typecheck unit integration test demo demo-fleet demo-migration invoke \
	clean lint-cfn build package bench reliability test-aws sweep-aws

# Every target in .PHONY appears here (tests/unit/test_makefile.py checks it).
help:
	@echo "Try it (no AWS account, no Docker):"
	@echo "  make demo          the whole lifecycle against an embedded EC2 (the first run installs"
	@echo "                     .venv-demo: about 150 MB, 20 s)"
	@echo "  make demo-fleet    a fleet kept true as its Auto Scaling group scales out and in"
	@echo "  make demo-migration  adopt a native AWS::EC2::TrafficMirrorSession's session, no gap"
	@echo "  make invoke EVENT=events/create.json"
	@echo "                     deliver one event file to the handler, print CloudFormation's answer"
	@echo "Check (make test is what CI runs):"
	@echo "  make test          lint, typecheck, lint-cfn, package, then every test, in that order"
	@echo "  make lint          ruff check and ruff format --check"
	@echo "  make format        ruff format, then ruff check --fix"
	@echo "  make typecheck     mypy --strict"
	@echo "  make unit          the unit tests (tests/unit): seconds, no EC2 and no receiver"
	@echo "  make integration   the handler end to end on the embedded EC2 (tests/integration)"
	@echo "  make lint-cfn      sam validate --lint, cfn-lint and checkov on the templates"
	@echo "  make reliability   fuzzing, stateful, concurrency and fault suites at full size"
	@echo "A real AWS account (creates instances and sessions: it costs money, docs/real-aws.md):"
	@echo "  make test-aws      the acceptance suite there; needs AWS_TEST_ACCOUNT, AWS_TEST_REGION"
	@echo "                     and AWS_TEST_PROFILE (refused, exit 2, without them)"
	@echo "  make sweep-aws     delete what a failed test-aws run left, found by its tag"
	@echo "Build and measure:"
	@echo "  make build         sam build (no Docker needed)"
	@echo "  make package       make build, then check what the package holds"
	@echo "  make bench         the provider against bare boto3: time, EC2 calls, memory, package"
	@echo "                     and a 1,000-interface fleet (figures in build/bench.json)"
	@echo "Housekeeping:"
	@echo "  make venv          set up .venv only (every target does this itself when needed)"
	@echo "  make clean         remove the virtual environments, caches and build output"
	@echo "  make help          this list"

$(STAMP): requirements-dev.txt requirements-demo.txt provider/requirements.txt pyproject.toml
	@echo "==> setting up $(VENV) for make test (first run only): about 65 packages (about 290 MB),"
	@echo "    30 s to 2 minutes: the demo's packages plus pytest, hypothesis, mypy, ruff, policy-sentry"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --progress-bar off --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .  # tms-audit
	@touch $(STAMP)
	@echo "==> tms-audit is $(BIN)/tms-audit: '. $(BIN)/activate' puts it on your PATH"

venv: $(STAMP)

$(DEMO_STAMP): requirements-demo.txt provider/requirements.txt pyproject.toml
	@echo "==> first run: installing the demo's 35 packages (about 150 MB) into $(DEMO_VENV);"
	@echo "    about 20 s, up to a minute on a slow network. Later runs start at once."
	$(PYTHON) -m venv $(DEMO_VENV)
	$(DEMO_BIN)/pip install --progress-bar off --disable-pip-version-check -r requirements-demo.txt
	$(DEMO_BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .  # tms-audit
	@touch $(DEMO_STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

$(SAM_VENV)/.installed: tools/requirements-sam.txt
	@echo "==> setting up $(SAM_VENV) (SAM CLI, cfn-lint)"
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check -r $<
	@touch $@

$(CHECKOV_VENV)/.installed: tools/requirements-checkov.txt
	@echo "==> setting up $(CHECKOV_VENV) (checkov)"
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r $<
	@touch $@

# Templates: SAM's own lint, cfn-lint, and checkov (findings fixed or suppressed inline with
# a reason). --skip-download keeps checkov offline.
lint-cfn: $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed
	for t in $(TEMPLATES); do $(SAM_VENV)/bin/sam validate --lint --template-file $$t || exit 1; done
	$(SAM_VENV)/bin/cfn-lint $(TEMPLATES)
	$(CHECKOV_VENV)/bin/checkov $(foreach t,$(TEMPLATES),-f $(t)) --framework cloudformation \
		--compact --quiet --skip-download

# sam build exactly as a deployer runs it, then check what the package holds.
build: $(SAM_VENV)/.installed
	$(SAM_VENV)/bin/sam build

package: build $(STAMP)
	$(BIN)/python -m local.package_check .aws-sam/build/ProviderFunction

typecheck: $(STAMP)
	$(BIN)/mypy

# Tests by level: tests/unit, tests/integration, tests/reliability (conftest.py is shared).
# No unit test uses hypothesis: without its pytest plugin, make unit starts a second sooner.
unit: $(STAMP)
	$(BIN)/pytest -p no:hypothesispytest tests/unit

integration: $(STAMP)
	$(BIN)/pytest tests/integration

# Every level; the reliability suites at their default size.
# Then the same again with EC2's reads lagging its writes by a fixed 1.5 s (the embedded EC2's
# read lag): parallel Creates in their own Lambda environments, allocation and the lifecycle.
LAGGED := EMBEDDED_EC2_READ_LAG=1.5 VISIBLE_WITHIN_SECONDS=10
test: lint typecheck lint-cfn package
	$(BIN)/pytest
	$(LAGGED) CONCURRENCY_ROUNDS=2 $(BIN)/pytest tests/reliability/test_concurrency.py \
		tests/integration/test_allocation.py tests/integration/test_lifecycle.py

demo: $(DEMO_STAMP)
	$(DEMO_BIN)/python -m local.demo

demo-fleet: $(DEMO_STAMP)
	$(DEMO_BIN)/python -m local.fleet_demo

demo-migration: $(DEMO_STAMP)
	$(DEMO_BIN)/python -m local.migration_demo

# Exit status of local.invoke: 0 SUCCESS, 1 FAILED, 2 bad usage or event file (nothing sent).
# make itself exits 2 whenever a recipe fails; its "Error 1" / "Error 2" line keeps the code.
invoke: $(DEMO_STAMP)
	@test -n "$(EVENT)" || { echo "usage: make invoke EVENT=events/create.json" >&2; exit 2; }
	@$(DEMO_BIN)/python -m local.invoke "$(EVENT)"

# sam build (BuildMethod: makefile) calls this with ARTIFACTS_DIR set. It installs wheels for
# the function's runtime and architecture, so it needs neither Docker nor python3.13 here.
LAMBDA_PLATFORM := --platform manylinux2014_aarch64 --implementation cp --python-version 3.13
build-ProviderFunction build-FleetFunction build-ReconcilerFunction:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
		$(LAMBDA_PLATFORM) --target "$(ARTIFACTS_DIR)" -r $(ROOT)provider/requirements.txt
	cp -R $(ROOT)provider/app.py $(ROOT)provider/fleet_app.py $(ROOT)provider/reconciler_app.py \
		$(ROOT)provider/traffic_mirror "$(ARTIFACTS_DIR)/"
	find "$(ARTIFACTS_DIR)" -name __pycache__ -prune -exec rm -rf {} +

# Speed, EC2 calls, memory and package size against the floor (bare boto3, same endpoint).
bench: build $(STAMP)
	$(BIN)/python -m local.bench

# The reliability suites at full size; make test runs them at their default size.
reliability: $(STAMP)
	FUZZ_EXAMPLES=10000 STATEFUL_SEQUENCES=150 STATEFUL_STEPS=30 CONCURRENCY_ROUNDS=20 \
		FLEET_SEQUENCES=50 FLEET_STEPS=30 \
		$(BIN)/pytest tests/reliability tests/integration/test_failures.py \
		tests/integration/test_ownership.py
	$(LAGGED) $(BIN)/pytest -rxX tests/integration  # the integration suite under a 1.5 s read lag
	EMBEDDED_EC2_READ_LAG=0-3 VISIBLE_WITHIN_SECONDS=10 CONCURRENCY_ROUNDS=5 \
		STATEFUL_SEQUENCES=10 STATEFUL_STEPS=15 FLEET_SEQUENCES=6 FLEET_STEPS=15 \
		$(BIN)/pytest tests/reliability/test_concurrency.py tests/reliability/test_stateful.py \
		tests/reliability/test_stateful_fleet.py  # under a random 0-3 s read lag

# The acceptance suite against a real account (tests/aws; make test runs it embedded). Both
# refuse without AWS_TEST_ACCOUNT, AWS_TEST_REGION and AWS_TEST_PROFILE, and check the account.
test-aws: $(STAMP)
	@$(BIN)/python -m local.aws test

sweep-aws: $(STAMP)
	@$(BIN)/python -m local.aws sweep

clean:
	rm -rf $(VENV) $(DEMO_VENV) $(SAM_VENV) $(CHECKOV_VENV) .mypy_cache .ruff_cache .pytest_cache \
		.hypothesis .aws-sam build
