# The README's two commands: `make run` and `make test`. Both set everything up first and
# are idempotent: a second run reuses the virtual environment and the database.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)
# The embedded broker runs only when MQTT_URL is not set (production points at Mosquitto).
PROCESSES := web ingest worker beat simulator $(if $(MQTT_URL),,broker)

.PHONY: run test setup migrate demo lint lock clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

setup: $(STAMP)

migrate: setup
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py load_demo

# The demo runs with DEBUG on, asked for here: the settings default to off, as production wants.
run: export DJANGO_DEBUG = true
# Two-factor sign-in not required in the demo (the login page says so); it can still be set up.
run: export TRACKER_MFA_REQUIRED = false
run: demo
	$(BIN)/python manage.py demo_logins
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/honcho --procfile Procfile start $(PROCESSES)

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The gate CI runs before the tests: lint, format, types (strict on the core modules, see
# pyproject.toml) and no model change without its migration.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python manage.py makemigrations --check --dry-run

# Regenerate the lock (constraints.txt) after changing pyproject.toml.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet -e '.[dev]'
	.lock-venv/bin/pip freeze --exclude-editable > constraints.txt
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) var
