# Two commands for a fresh machine with only Python: `make run` and `make test`.
PYTHON3 ?= python3
VENV := .venv
PYTHON := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)

.PHONY: run serve test lint install vendor load-test

install: $(INSTALLED)

$(INSTALLED): pyproject.toml
	test -x $(PYTHON) || $(PYTHON3) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet --editable '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

# Development server with the seed: DEBUG on unless the environment says otherwise.
run: $(INSTALLED)
	DEBUG=$${DEBUG:-1} $(PYTHON) manage.py migrate --no-input
	DEBUG=$${DEBUG:-1} $(PYTHON) manage.py load_seed
	DEBUG=$${DEBUG:-1} $(PYTHON) manage.py runserver 127.0.0.1:8000

# Production: gunicorn behind your TLS proxy; settings come from the environment (see README).
serve: $(INSTALLED)
	$(PYTHON) manage.py migrate --no-input
	$(PYTHON) manage.py collectstatic --no-input --verbosity 0
	$(VENV)/bin/gunicorn nkkb.wsgi --config gunicorn.conf.py --bind $${BIND:-127.0.0.1:8000} --workers $${WORKERS:-2} --access-logfile -

test: $(INSTALLED)
	$(PYTHON) -m pytest

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

# Refresh the vendored front-end assets from npm (package.json pins their versions).
vendor:
	npm ci --no-audit --no-fund
	mkdir -p static/vendor/pico
	cp node_modules/@picocss/pico/css/pico.min.css node_modules/@picocss/pico/LICENSE.md static/vendor/pico/

# 200 concurrent clients for 30 s against gunicorn on a fresh seeded SQLite file (BENCHMARKS.md).
load-test: $(INSTALLED)
	$(PYTHON) bench/load_test.py --clients $${CLIENTS:-200} --duration $${DURATION:-30}
