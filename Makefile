# Two commands do everything on a fresh machine with Python 3.11 + pip:
#   make demo   -> builds .venv, runs configs/demo.yaml end to end into out/demo/
#   make test   -> builds .venv, runs the test suite
PYTHON ?= python3.11
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: demo test venv bench clean report-check

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=python3 ...'" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/sdg run configs/demo.yaml --output out/demo
	$(BIN)/sdg inspect out/demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

# The HTML report of out/demo (made first if missing) checked as headless Chromium renders it (Debian's chromium,
# installed if missing); full-page screenshots land in out/demo/inspect/screenshot-<k>.png.
report-check: $(STAMP)
	@command -v chromium >/dev/null 2>&1 || apt-get install -y chromium
	@test -f out/demo/manifest.json || $(BIN)/sdg run configs/demo.yaml --output out/demo
	SDG_REPORT_DIR=out/demo SDG_REQUIRE_CHROMIUM=1 $(BIN)/python -m pytest -q tests/test_report.py

# every benchmark prints its figure on its last line (`name: value`); see README "Speed"
BENCHES = simulate looks e2e pipeline memory scaling video qa shortcuts
bench: $(STAMP)
	@for b in $(BENCHES); do echo "== bench_$$b"; $(BIN)/python benchmarks/bench_$$b.py || exit 1; done

bench-%: $(STAMP)
	$(BIN)/python benchmarks/bench_$*.py

clean:
	rm -rf out .pytest_cache
