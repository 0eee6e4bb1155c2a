# poolkit: the two commands are `make demo` and `make test`; `make help` lists the rest.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_FORCE_COLOR ?= 0
export PY_COLORS ?= 0
export ANSIBLE_NOCOLOR ?= 1

# Molecule scenarios run by `make test` (molecule/<name>/), in lanes: the scenarios of a lane
# run one after another, the lanes side by side (scripts/lanes.sh). Lanes of about equal
# length: measured times in the README ("Tests"). `make test` adds a short third lane: lint,
# the unit tests, then the compose tests (`compose`: `make smoke` and the rest of
# tests/compose), then `collection` (`make collection`: the collection and the wheel
# installed and used outside the checkout, tests/collection), then the light `forky` and
# `ha-bookworm` scenarios (SHORT_SCENARIOS, below: they run while the long lanes do).
# Three long scenarios at once slowed each other so much that a converge under load outran
# its 300 s limit: two long lanes. Run a subset in one lane:
#   make molecule SCENARIOS="pgpool security"
LANES ?= "pgbouncer security" "ha pgpool"
# The short lane ends with the light scenarios: `forky` (Debian 14's packages, about 8
# minutes) and `ha-bookworm` (the HA proofs on Debian 12, about 8 minutes). `make molecule`
# (no checks) runs them as a third lane.
SHORT_SCENARIOS ?= forky ha-bookworm
SHORT_LANE ?= "lint unit compose collection $(SHORT_SCENARIOS)"
SCENARIOS ?=

.PHONY: help setup demo demo-ha demo-ha-down lab deploy test lint unit smoke collection molecule clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

setup: ## Install .venv, a Docker Engine with compose v2 and the base images (safe to re-run)
	@scripts/setup.sh

demo: setup lab deploy ## Start the lab and deploy the poolers into it, then prove a query goes through
	@python scripts/demo-proof.py

# The HA lab is molecule's `ha` scenario, created and converged and left running: three Patroni
# members (etcd, Patroni, PostgreSQL 17) and a pooler host (PgBouncer following the leader,
# Pgpool-II). Its state (the lab CA) is in lab/.state/ha; `make test` needs it down first.
HA_LAB := MOLECULE_EPHEMERAL_DIRECTORY=$(CURDIR)/lab/.state/ha
demo-ha: setup ## Start the HA lab (Patroni + etcd x3, PgBouncer following the leader, Pgpool-II), then prove queries go through
	@echo "==> Starting the HA lab (molecule create and converge of the ha scenario, left running)"
	@$(HA_LAB) molecule create -s ha
	@$(HA_LAB) molecule converge -s ha
	@python scripts/demo-ha-proof.py

demo-ha-down: ## Remove the HA lab's containers and network
	@$(HA_LAB) molecule destroy -s ha

lab: ## Start the lab containers (inventories/local) on the poolkit-lab network
	@echo "==> Starting the lab (lab/up.yml)"
	@ansible-playbook lab/up.yml

deploy: ## Run playbooks/deploy-pooler.yml against inventories/local
	@echo "==> Deploying (playbooks/deploy-pooler.yml against inventories/local)"
	@ansible-playbook playbooks/deploy-pooler.yml

test: setup ## Everything CI runs: lint and unit tests, the compose tests and molecule, in lanes side by side
	@scripts/lanes.sh $(SHORT_LANE) $(LANES)
	@echo "==> make test: all green"

# Each stage's whole output is kept in .cache/test-logs/<stage>.log; a failing stage ends with
# a summary (its FAILED lines, first errors, the log's path) that a cut log still shows.
STAGE := scripts/stage.sh

lint: ## ansible-lint (production profile), yamllint, ruff, ansible-test sanity on the collection
	@$(STAGE) lint bash -euo pipefail -c '\
	  echo "==> ruff"; \
	  ruff check src tests plugins scripts molecule bench; \
	  ruff format --check src tests plugins scripts molecule bench; \
	  echo "==> yamllint"; yamllint --strict .; \
	  echo "==> ansible-lint (production profile)"; ansible-lint; \
	  echo "==> ansible-test sanity (the collection as built)"; scripts/sanity.sh'

unit: ## Unit and property tests (pytest tests/unit)
	@echo "==> pytest tests/unit"
	@$(STAGE) unit pytest tests/unit

collection: ## Build the collection tarball and the wheel, install them outside the checkout, deploy and query (tests/collection)
	@echo "==> pytest tests/collection (the collection and the wheel, used from a directory of their own)"
	@$(STAGE) collection pytest tests/collection

smoke: ## The compose stack's smoke test (tests/compose: up --wait, queries, down -v)
	@echo "==> pytest tests/compose (docker-compose.yml as project poolkit-smoke)"
	@$(STAGE) compose pytest tests/compose

molecule: ## Molecule scenarios (create, converge, idempotence, verify, destroy) and the compose tests, in lanes
	@scripts/lanes.sh $(if $(SCENARIOS),"$(SCENARIOS)",$(LANES) "$(SHORT_SCENARIOS)")

clean: ## Remove the lab containers and network, molecule and smoke-test leftovers
	@if ! docker info >/dev/null 2>&1; then echo "==> Nothing to clean: no Docker Engine answers"; exit 0; fi; \
	echo "==> Removing the lab containers (label io.poolkit.lab) and molecule leftovers (label owner=molecule)"; \
	docker ps -aq --filter label=io.poolkit.lab | xargs -r docker rm -f >/dev/null; \
	docker ps -aq --filter label=owner=molecule | xargs -r docker rm -f >/dev/null; \
	echo "==> Removing the smoke test's compose project (poolkit-smoke) and its volumes"; \
	docker compose -p poolkit-smoke down -v --remove-orphans >/dev/null 2>&1 || true; \
	for net in poolkit-lab $$(docker network ls -q --filter name=molecule-); do docker network rm $$net >/dev/null 2>&1 || true; done; \
	echo "==> Removing the lab CA (lab/.state)"; rm -rf lab/.state
