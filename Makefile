# Two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

# A tool from Debian's packages, installed unless the check $(1) already holds (package $(2));
# the package lists are fetched once if a fresh machine has none. sudo when not root.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
apt_install = $(1) || { echo "installing Debian's $(2)"; export DEBIAN_FRONTEND=noninteractive; \
  $(SUDO) apt-get install -y -q $(2) >/dev/null || \
  { $(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q $(2) >/dev/null; }; }

.PHONY: run test test-pg test-dates lint migrate demo clean e2e e2e-deps bench bench-quick bench-tools \
	radius radius-deps pdf-deps qr-deps

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $@

# Payment slips as PDF (web/slip_pdf.py): WeasyPrint (pinned in pyproject.toml) needs Debian's
# Pango with HarfBuzz's subsetter, and fonts with Cyrillic (DejaVu). The site starts without them;
# a PDF fails.
PDF_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core
pdf-deps:
	@$(call apt_install,ldconfig -p | grep -q libpangoft2-1.0.so.0 && \
	  ldconfig -p | grep -q libharfbuzz-subset.so.0 && \
	  test -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf,$(PDF_PACKAGES))

# Tests read the slips' QR codes back with zbar (Debian's libzbar0 through pyzbar).
qr-deps:
	@$(call apt_install,ldconfig -p | grep -q libzbar.so.0,libzbar0)

# `make run` and `make test` need nothing but Python: they try to install the PDF and QR tools and
# go on without them (PDF slips then answer with a message; their tests skip, CI makes them fail).
try_deps = $(MAKE) --no-print-directory $(1) || echo "note: $(1) not installed (needs apt); going on without it"

run: $(STAMP)
	@$(call try_deps,pdf-deps)
	$(PY) run.py

test: $(STAMP)
	@$(call try_deps,pdf-deps qr-deps)
	$(PY) -m pytest -q $(PYTEST_ARGS)

# The same suite on PostgreSQL (a throwaway database on that server).
test-pg: $(STAMP)
	@$(call try_deps,pdf-deps qr-deps)
	CENTRA_TEST_PG=$${CENTRA_TEST_PG:-postgresql://postgres@127.0.0.1:5432/postgres} $(PY) -m pytest -q $(PYTEST_ARGS)

# Date-bomb check: the suite (browser tests left out) with the clock started at month and year
# ends, in UTC and in Novokuznetsk time (UTC+7) where the two fall on different days. Two
# date bugs were found only when the calendar got there. libfaketime from Debian's packages.
DATE_INSTANTS ?= "2026-12-31 18:00:00" "2027-01-01 00:30:00" "2027-02-28 23:50:00" "2027-03-31 17:30:00"

test-dates: $(STAMP) pdf-deps qr-deps
	@$(call apt_install,command -v faketime >/dev/null,faketime)
	for t in $(DATE_INSTANTS); do echo "== clock started at $$t UTC"; \
	  TZ=UTC faketime "$$t" $(PY) -m pytest -q -m "not e2e" -p no:cacheprovider $(PYTEST_ARGS) || exit 1; done

# Browser tests (tests/e2e, docs/e2e.md): Debian's Chromium driven by Playwright for Python,
# axe-core from the npm registry into a git-ignored folder (never committed).
CHROMIUM ?= /usr/bin/chromium
AXE_VERSION := 4.14.1
E2E_DIR := .e2e
AXE_STAMP := $(E2E_DIR)/.axe-core-$(AXE_VERSION)

$(AXE_STAMP):
	npm install --prefix $(E2E_DIR) --no-save --no-audit --no-fund --loglevel=error axe-core@$(AXE_VERSION)
	rm -f $(E2E_DIR)/.axe-core-*
	touch $@

e2e-deps: $(STAMP) $(AXE_STAMP) pdf-deps qr-deps
	@$(call apt_install,test -x $(CHROMIUM),chromium)

# Only the browser tests.
e2e: e2e-deps
	$(PY) -m pytest -q -m e2e $(PYTEST_ARGS)

# FreeRADIUS asking the app (docs/network.md): Debian's freeradius, freeradius-utils (radclient)
# and freeradius-rest (rlm_rest). `make run` does not need it; the tests skip without it (CI fails).
RADIUS_PACKAGES := freeradius freeradius-utils freeradius-rest
radius-deps:
	@$(call apt_install,test -x /usr/sbin/freeradius && test -x /usr/bin/radclient && \
	  test -f /usr/lib/freeradius/rlm_rest.so,$(RADIUS_PACKAGES))

# FreeRADIUS with a configuration written from the NAS table, asking the app `make run` serves.
radius: $(STAMP) radius-deps
	$(PY) -m network freeradius --app-url http://$${HOST:-127.0.0.1}:$${PORT:-8000} $(RADIUS_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

migrate: $(STAMP)
	$(VENV)/bin/piccolo migrations forwards all

demo: $(STAMP)
	$(VENV)/bin/piccolo tables demo

# Benchmarks (docs/performance.md): wrk from Debian's packages; PostgreSQL at $$CENTRA_BENCH_PG.
bench-tools:
	@$(call apt_install,command -v wrk >/dev/null,wrk)

bench: $(STAMP) bench-tools radius-deps
	$(PY) bench/run_all.py $(BENCH_ARGS)

bench-quick: $(STAMP) bench-tools radius-deps
	$(PY) bench/run_all.py --quick $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var $(E2E_DIR) test-output
