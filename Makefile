# Everyday tasks. The tools come from the virtual environment of CONTRIBUTING.md
# (`pip install -e '.[dev]'`); `bash .ci/run` does the same from a fresh one.

PYTHON ?= python
PATHS := src tests benchmarks scripts

.PHONY: check test demo

## ruff, ruff format, mypy --strict and the import contracts, as CI runs them
check:
	ruff check $(PATHS)
	ruff format --check $(PATHS)
	mypy src
	lint-imports

## the whole test suite on a real database (an embedded PostgreSQL unless
## RECON_TEST_DATABASE_URL is set)
test:
	$(PYTHON) -m pytest

## replay the disk-expungement race on the embedded PostgreSQL
demo:
	recon demo
