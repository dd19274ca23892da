# Tally developer entry points. Everything runs from the repo venv (.venv), made by bootstrap.
VENV := .venv
PY := $(VENV)/bin/python
TALLY := $(VENV)/bin/tally
PYTEST := $(VENV)/bin/pytest

.PHONY: bootstrap demo up up-prometheus down status test test-slow lint

bootstrap:  ## venv + system binaries + Kafka jars (idempotent, quick when done)
	ops/bootstrap.sh

demo: bootstrap  ## the stack, one worker and a demo feed; availability printed live (Ctrl-C stops)
	$(PY) -m devtools.demo

up: bootstrap  ## Kafka (KRaft) + Redis as local processes
	$(TALLY) up

up-prometheus: bootstrap  ## the same, plus Prometheus
	$(TALLY) up --with-prometheus

down:  ## stop the local stack (data stays; `$(TALLY) down --wipe` deletes it)
	$(TALLY) down

status:
	$(TALLY) status

test: bootstrap lint  ## lint, then the default tier (unit + integration; starts the stack if needed)
	$(PYTEST) -m "not slow"

test-slow: bootstrap  ## the long-running tier
	$(PYTEST) -m slow

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports

