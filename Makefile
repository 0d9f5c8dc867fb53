# Two commands for a newcomer: `make run` and `make test`. Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install lint typecheck schema client-enums clean bench bench-quick

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)  ## migrate, seed when empty, end coverage past its end, print a token per role, serve with GraphiQL
	$(BIN)/rentan db upgrade
	$(BIN)/rentan seed --if-empty
	$(BIN)/rentan end-coverage  # the monthly job, for today: the seed's 2025 coverage has ended since
	@echo "GraphiQL: http://$(HOST):$(PORT)/graphql  (paste one of these into its Headers tab)"
	@$(BIN)/rentan dev-tokens
	$(BIN)/rentan serve --host $(HOST) --port $(PORT)

# On SQLite the suite runs in two processes (pytest-xdist, a file per process at a time): each has its own server and
# database in its own temporary folder. Against RENTAN_TEST_DATABASE_URL (one PostgreSQL database) it runs in one.
PYTEST_PARALLEL := $(if $(RENTAN_TEST_DATABASE_URL),,-n 2 --dist loadfile)

test: $(STAMP)  ## every test, against SQLite (or RENTAN_TEST_DATABASE_URL)
	$(BIN)/pytest -q $(PYTEST_PARALLEL)

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

schema: $(STAMP)  ## print the served schema (SDL)
	@$(BIN)/python -c "from api.schema.build import build_schema; from api.settings import Settings; print(build_schema(Settings()).as_str())"

client-enums: $(STAMP)  ## regenerate client/enums.py from the served schema (tests/test_client_enums.py checks it)
	@$(MAKE) --no-print-directory -s schema | $(BIN)/python -m client.generate_enums client/enums.py

bench: $(STAMP)  ## this API against PostGraphile 5 on datasets S and L (bench/README.md); BENCH_DURATION=10 etc.
	$(BIN)/python bench/compare.py --datasets S L

bench-quick: $(STAMP)  ## the same on dataset S (Kota Pasuruan) only: a few minutes
	$(BIN)/python bench/compare.py --datasets S

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache rentan.sqlite3* .rentan
