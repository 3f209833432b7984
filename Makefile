# Zegel — the two commands that matter: `make demo` and `make test`.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PY ?= python3
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
VENV := .venv/bin

.PHONY: help install browser oidc-provider demo test lint pytest clean

help:
	@echo "make demo   install everything and run Zegel with demo data (SQLite, sandboxes)"
	@echo "make test   install everything and run every check and test"

.tools/bin/uv:
	$(PY) -m venv .tools
	.tools/bin/pip install --quiet uv

install: $(if $(findstring .tools,$(UV)),.tools/bin/uv)
	$(UV) sync --frozen --quiet

# Browser tests use Debian's Chromium (Playwright cannot download browsers here); the signing
# tests use Debian's SoftHSM2 (a PKCS#11 token), pdfsig (poppler-utils), qpdf and certutil.
browser:
	@missing=""; \
	for tool in chromium:chromium softhsm2-util:softhsm2 pdfsig:poppler-utils qpdf:qpdf \
	            certutil:libnss3-tools; do \
	  command -v $${tool%%:*} >/dev/null || missing="$$missing $${tool##*:}"; \
	done; \
	[ -z "$$missing" ] || { \
	  echo "Installing from Debian:$$missing..."; \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq $$missing >/dev/null; }

# The certified OpenID Provider (npm `oidc-provider`) the login tests start on loopback.
oidc-provider: tests/oidc_provider/node_modules
tests/oidc_provider/node_modules: tests/oidc_provider/package-lock.json
	npm ci --prefix tests/oidc_provider --no-audit --no-fund --silent
	@touch $@

demo: install
	$(VENV)/zegel demo

lint: install
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/mypy
	$(VENV)/lint-imports

pytest: install browser oidc-provider
	$(VENV)/pytest -q -p no:cacheprovider

test: lint pytest

clean:
	rm -rf .venv .tools .mypy_cache .ruff_cache var artifacts tests/oidc_provider/node_modules
