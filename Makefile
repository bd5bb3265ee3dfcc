# kontroll – two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test test-sqlite test-postgres install bench check-python clean

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "kontroll behöver Python 3.11 eller senare")'

$(STAMP): pyproject.toml | check-python
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

instance/config.py:
	mkdir -p instance
	$(BIN)/python -c "import secrets; print('# Created by make run. Keep it secret; do not commit it.'); print('SECRET_KEY = ' + repr(secrets.token_hex(32)))" > instance/config.py
	chmod 600 instance/config.py

# Creates the environment, migrates, loads the demo into an empty database and serves, with the
# scheduler (reminders) as a second process of the same command; Ctrl+C stops both.
run: $(STAMP) instance/config.py
	$(BIN)/kontroll db upgrade
	$(BIN)/kontroll demo load --if-empty
	@echo "kontroll körs på http://$(HOST):$(PORT)/ – logga in som t.ex. sektionschef / kontroll-demo"
	$(BIN)/kontroll dev --host $(HOST) --port $(PORT)

# The whole suite: on SQLite, then on PostgreSQL (see tests/run_suite.py).
test: $(STAMP)
	$(BIN)/python tests/run_suite.py

test-sqlite: $(STAMP)
	$(BIN)/python tests/run_suite.py --only sqlite

test-postgres: $(STAMP)
	$(BIN)/python tests/run_suite.py --only postgresql

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info test-output
