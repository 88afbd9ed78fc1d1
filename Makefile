# Two commands for a fresh machine (see README): `make demo` and `make test`.
.PHONY: setup setup-system demo test test-fast lint

setup:
	./scripts/setup.sh

setup-system:
	./scripts/setup-system.sh

demo: setup
	uv run callmip demo

test: setup setup-system
	./scripts/test.sh

test-fast: setup
	uv run pytest -m "not slow"

lint: setup
	uv run ruff check .
