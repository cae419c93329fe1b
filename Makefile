# Tidings: `make run` serves on SQLite with GraphiQL; `make test` runs the suite on SQLite and PostgreSQL.
PYTHON ?= python3
# `make run PORT=8001 HOST=0.0.0.0` serves elsewhere.
HOST ?= 127.0.0.1
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench demo schema services clean screenshots

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip "setuptools>=77"
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/tidings serve --host $(HOST) --port $(PORT)

demo: $(STAMP)
	$(BIN)/tidings demo

test: $(STAMP) services
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: $(STAMP) services
	$(BIN)/python -m bench

schema: $(STAMP)
	$(BIN)/tidings export-schema

# docs/screenshots/preferences-*.png and dashboard-*.png: the preference page and the staff
# dashboard in English and Chinese, by hand.
screenshots: $(STAMP)
	@scripts/ensure-browser
	$(BIN)/python scripts/screenshots.py

# Start PostgreSQL and Redis when they are not answering (the machine's own services), and
# install Chromium for the page tests when it is missing.
services:
	@scripts/ensure-services
	@scripts/ensure-browser

clean:
	rm -rf $(VENV) build *.egg-info
