# citycrier's one task runner: the README's two commands and CI call these targets.
#   make demo   set up a virtual environment and run `citycrier demo`
#   make test   set up everything the tests need (Python, npm test servers, Debian
#               packages for PostgreSQL and Chromium) and run the whole suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-deps lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/citycrier demo

test-deps: $(STAMP)
	bash scripts/install-test-deps.sh

test: test-deps
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check bot tests bench
	$(BIN)/mypy bot

# every benchmark, then one table: figure, baseline, ratio, goal, met or not (bench/summary.py)
BENCH_SUMMARY := $(VENV)/bench-summary.jsonl
bench: test-deps
	rm -f $(BENCH_SUMMARY)
	for b in $(filter-out bench/summary.py,$(wildcard bench/*.py)); do echo "== $$b"; \
		CITYCRIER_BENCH_SUMMARY=$(CURDIR)/$(BENCH_SUMMARY) $(BIN)/python $$b || exit 1; done
	$(BIN)/python bench/summary.py $(BENCH_SUMMARY)

clean:
	rm -rf $(VENV) state outbox tests/servers/node_modules
