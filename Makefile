.PHONY: install check test lint format demo

install:
	python3 -m pip install -e '.[dev]'

check: lint
	mypy xdmflow tests
	lint-imports

lint:
	ruff check .
	ruff format --check .

format:
	ruff format .
	ruff check --fix .

test:
	python3 -m pytest -n 2

demo:
	xdmflow demo
