# Quick start: `make run`, then `make test`. Both install what is missing first.
.PHONY: run test deps test-deps lint bench

run: deps
	dockyard run --rm hello-world

test: test-deps
	.venv/bin/python -m pytest -q -ra

deps:
	@bash scripts/install-deps.sh

test-deps:
	@bash scripts/install-deps.sh --test

lint: test-deps
	.venv/bin/ruff check dockyard tests bench

bench: deps
	.venv/bin/python bench/run_latency
