# Two commands do everything: `make demo` and `make test` (each sets up what it needs).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench setup system-deps template clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

# LibreOffice (a real spreadsheet client for the tests), CJK fonts and poppler (PDF checks).
system-deps:
	@./.ci/system-deps

demo: setup
	$(BIN)/xl-ar demo --out demo-out

test: setup system-deps
	$(BIN)/lint-imports --no-cache
	$(BIN)/pytest

# Timed as installed: with the package's bytecode compiled (as pip does for an install; an
# editable install, without write access or with PYTHONDONTWRITEBYTECODE, compiles every start).
bench: setup
	$(BIN)/python -m compileall -q xl_ar
	$(BIN)/python bench/bench_refresh.py $(if $(BENCH_ROWS),--sizes $(BENCH_ROWS))

# Regenerates the golden xlwings_udfs.bas from xl_ar/udfs.py, then the workbook.
template: setup
	$(BIN)/python -m xl_ar.template.udf_vba
	$(BIN)/xl-ar build-template

clean:
	rm -rf $(VENV) demo-out .pytest_cache
