# `make run` and `make test` are the two commands of README.md; both set up .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: run test lint typecheck unit stress bench judge clean

$(VENV)/.runtime: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -e .
	touch $@

$(VENV)/.dev: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -e '.[dev]'
	touch $(VENV)/.runtime $@

## Build the bundled seeds/ and config/ into output/ and say where the feeds are.
run: $(VENV)/.runtime
	$(BIN)/feeds build

## Lint, type-check and run the whole test suite (what .ci/run runs).
test: lint typecheck unit

lint: $(VENV)/.dev
	$(BIN)/ruff check feeds tests bench

typecheck: $(VENV)/.dev
	$(BIN)/mypy feeds

# pytest exits 5 when it collected no test: that is a failure here.
unit: $(VENV)/.dev
	$(BIN)/python -m pytest --cov --cov-report=term $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest ran no test"; exit 1; fi; exit $$rc

## Heavy runs, not in CI: the kill suite on 5,000 articles with 25 kills per phase, Hypothesis
## with the "stress" profile (2,000 examples per reader property, 500 per whole build).
stress: $(VENV)/.dev
	FEEDS_CRASH_ARTICLES=5000 FEEDS_CRASH_KILLS=25 FEEDS_CRASH_SOURCES=30 \
	  HYPOTHESIS_PROFILE=stress $(BIN)/python -m pytest -p no:cacheprovider \
	  tests/test_crash.py tests/test_properties.py $(wildcard tests/test_build_properties.py)

## The archive-scale benchmark (not part of the test suite).
bench: $(VENV)/.runtime
	$(BIN)/python bench/run.py $(BENCH_ARGS)

## Judge the feeds built from seeds/, the samples and two upstream feeds with the judge harness
## (the W3C validator and ten real readers) set up in $(JUDGE_HOME), default /tmp/judge.
judge: $(VENV)/.runtime
	scripts/judge.sh

clean:
	rm -rf $(VENV) state output/*/ output/*.xml output/*.json output/*.html output/*.opml
