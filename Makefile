# Zegel — the two commands that matter: `make demo` and `make test`.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PY ?= python3
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
VENV := .venv/bin

.PHONY: help install browser demo test lint pytest clean

help:
	@echo "make demo   install everything and run Zegel with demo data (SQLite, sandboxes)"
	@echo "make test   install everything and run every check and test"

.tools/bin/uv:
	$(PY) -m venv .tools
	.tools/bin/pip install --quiet uv

install: $(if $(findstring .tools,$(UV)),.tools/bin/uv)
	$(UV) sync --frozen --quiet

# Browser tests use Debian's Chromium (Playwright cannot download browsers here).
browser:
	@command -v chromium >/dev/null || { \
	  echo "Installing Chromium from Debian..."; \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq chromium >/dev/null; }

demo: install
	$(VENV)/zegel demo

lint: install
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/mypy
	$(VENV)/lint-imports

pytest: install browser
	$(VENV)/pytest -q -p no:cacheprovider

test: lint pytest

clean:
	rm -rf .venv .tools .mypy_cache .ruff_cache var artifacts
