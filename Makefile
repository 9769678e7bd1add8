# VyaparBazaar Module 5 - the commands interns, instructors and CI use.
#   make lab        set up, generate data, build the warehouse, start JupyterLab on notebooks/
#   make warehouse  set up, generate data, build the warehouse (no server)
#   make check      self-check every exercise (public checks) against your warehouse
#   make submission zip notebooks/ into submission.zip, ready to hand in
# BEGIN INSTRUCTOR
#   make test       set up, data, warehouse, then the whole test suite (what CI runs)
#   make release    build the intern edition into dist/intern-edition (and its .zip)
# END INSTRUCTOR
# Every step is skipped when it is already done and up to date.
# (python -m grader release copies this file without the lines between BEGIN/END INSTRUCTOR.)
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The venv's interpreter: PYTHON=... if given, else the first supported one found (3.11 to 3.13).
PYTHON ?=
PYTHON_CANDIDATES := $(or $(PYTHON),python3.11 python3.12 python3.13 python3 python)
VENV   := .venv
PY     := $(VENV)/bin/python
# dbt's own command line, started lighter (course_core/dbt_cli.py: same output and exit code)
DBT    := $(abspath $(PY)) $(abspath course_core/dbt_cli.py)
SEED   ?= 42
SCALE  ?= 1
RAW    := datasets/raw
STATE  := .state
LAB_PORT ?= 8888
# The installer of the pinned packages: uv (fast; installed by pip into .venv at this exact version, with
# its own cache: ~/.cache/uv, or UV_CACHE_DIR) or pip (`make warehouse INSTALLER=pip`: no uv at all).
INSTALLER ?= uv
UV_VERSION := 0.13.8
UV_PIN := uv==$(UV_VERSION)

export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export PLOOMBER_STATS_ENABLED := false
export DO_NOT_TRACK := 1

DBT_SOURCES := $(shell find dbt_project -type f \( -name '*.sql' -o -name '*.yml' -o -name '*.md' \) \
                 -not -path 'dbt_project/target/*' -not -path 'dbt_project/logs/*' -not -path 'dbt_project/docs/*' -not -path 'dbt_project/ci/*' 2>/dev/null)
GENERATOR   := $(wildcard datasets/*.py)

.PHONY: help venv data warehouse lab check submission reset-warehouse clean
# BEGIN INSTRUCTOR
.PHONY: test bench notebooks solutions lint release
RELEASE_OUT ?= dist/intern-edition
# END INSTRUCTOR

help:
	@sed -n '2,/^# Every step/p' Makefile | grep -v 'INSTRUCTOR' | sed 's/^# *//'

venv: $(STATE)/venv.ok
$(STATE)/venv.ok: requirements.txt pyproject.toml
	@mkdir -p $(STATE)
	@test -x $(PY) || { \
	  for py in $(PYTHON_CANDIDATES); do \
	    v=$$($$py -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) || continue; \
	    case $$v in 3.11|3.12|3.13) echo "Creating $(VENV) with $$(command -v $$py) (Python $$v)"; \
	      exec $$py -m venv $(VENV);; esac; \
	    echo "$$py is Python $$v: this course supports Python 3.11 to 3.13"; \
	  done; \
	  echo "No supported Python found (tried: $(PYTHON_CANDIDATES)). Install Python 3.11, 3.12 or 3.13," \
	    "or name one: make $(or $(MAKECMDGOALS),venv) PYTHON=/path/to/python3.12" >&2; exit 1; }
	@echo "$(VENV) uses Python $$($(PY) -c 'import platform; print(platform.python_version())')"
	@$(call install,-r requirements.txt,--compile-bytecode)
	@$(call install,--no-deps --config-settings editable_mode=compat -e .)
	@touch $@

# $(call install,ARGS[,UV_FLAGS]): install ARGS into .venv with $(INSTALLER); uv is brought in (pinned) on
# first use, and where it cannot be installed the step falls back to pip, saying so. The pinned packages
# are compiled to bytecode as they are installed (uv --compile-bytecode; pip always does): where
# PYTHONDONTWRITEBYTECODE is set (these machines) Python never writes .pyc files itself, and every process
# that imported dbt compiled its modules from source again, ~1.1 CPU-s per dbt process (~16 CPU-s and
# ~2.6 s of wall time once, here, instead).
PIP_INSTALL := $(PY) -m pip install --quiet --disable-pip-version-check
define install
case "$(INSTALLER)" in \
  pip) echo "pip install $(1)"; $(PIP_INSTALL) $(1);; \
  uv) uv_ok() { [ -x $(VENV)/bin/uv ] && [ "$$($(VENV)/bin/uv --version | cut -d' ' -f2)" = "$(UV_VERSION)" ]; }; \
      uv_ok || $(PIP_INSTALL) $(UV_PIN) || true; \
      if uv_ok; then echo "uv pip install $(1)"; $(VENV)/bin/uv pip install --quiet --python $(PY) $(2) $(1); \
      else echo "Could not install $(UV_PIN): pip install $(1)"; $(PIP_INSTALL) $(1); fi;; \
  *) echo "INSTALLER=$(INSTALLER): use INSTALLER=uv (the default) or INSTALLER=pip" >&2; exit 2;; \
esac
endef

data: $(RAW)/_manifest.json
$(RAW)/_manifest.json: $(STATE)/venv.ok $(GENERATOR)
	$(PY) -m datasets.generate --seed $(SEED) --scale $(SCALE) --out $(RAW)

# Views store the absolute path of the raw data: a moved repository rebuilds the warehouse. The
# stamp is rewritten (when make reads this file) only if the repository's folder changed.
LOCATION := $(STATE)/location
$(shell mkdir -p $(STATE); [ "$$(cat $(LOCATION) 2>/dev/null)" = "$(CURDIR)" ] || echo "$(CURDIR)" > $(LOCATION))
warehouse: $(STATE)/warehouse.ok
$(STATE)/warehouse.ok: $(RAW)/_manifest.json $(DBT_SOURCES) $(LOCATION)
	cd dbt_project && $(DBT) build --quiet
	@touch $@

# JupyterLab: bound to 127.0.0.1; --allow-root only when run as root.
lab: venv data
	@$(MAKE) --no-print-directory warehouse \
	  || echo "Note: some models or tests failed (an exercise in progress?). Starting JupyterLab anyway."
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks --ip=127.0.0.1 --port=$(LAB_PORT) --no-browser \
	  $(if $(filter 0,$(shell id -u)),--allow-root,)

# Public self-checks of every exercise (exit 1 while one fails); the edition's CI runs the same.
check: venv
	$(PY) -m grader check --all

# What to hand in: the notebooks (they hold every answer: %%writefile cells and answer cells).
submission: venv
	$(PY) -c "import zipfile, pathlib; z = zipfile.ZipFile('submission.zip', 'w', zipfile.ZIP_DEFLATED); \
	  [z.write(p, p.as_posix()) for p in sorted(pathlib.Path('notebooks').glob('*.ipynb'))]; z.close()"
	@echo "submission.zip: hand it in as your instructor asks (or push your repository)"

# BEGIN INSTRUCTOR
# The warehouse build and the lint need only the venv: they run side by side (make -j2), then pytest.
test:
	@$(MAKE) --no-print-directory -j2 warehouse lint
	$(PY) -m pytest

# The intern edition (no answers, public checks only): a folder and a byte-reproducible zip.
release: venv
	$(PY) -m grader release --out $(RELEASE_OUT) --zip

# Benchmarks print numbers (no assertions). Smaller runs: make bench BENCH_SCALES=0.1 BENCH_COPIES=1
# (BENCH_SHARDS=0 skips the shard/merge measurement, which grades the class a second time)
BENCH_SCALES ?= 1,10
BENCH_COPIES ?= 4
BENCH_SHARDS ?= 2
bench: warehouse
	$(PY) bench/bench_generation.py --scales $(BENCH_SCALES)
	$(PY) bench/bench_dbt.py --scales $(BENCH_SCALES)
	$(PY) bench/bench_grading.py --copies $(BENCH_COPIES) --jobs 2 --shards $(BENCH_SHARDS)

notebooks: venv
	$(PY) -m grader assign

# For course developers: re-execute the solution notebooks (outputs stored), then regenerate notebooks/.
solutions: warehouse
	$(PY) -m notebook_helpers.refresh_outputs solutions/*.ipynb
	$(PY) -m grader assign

# Lint: ruff (Python), sqlfluff (dbt_project/ SQL, config in dbt_project/.sqlfluff; compiled with the dbt
# templater against an in-memory DuckDB, into its own target folder, so it never touches a warehouse),
# intern notebooks carry no outputs (nbstripout) and equal what `assign` makes of the solutions.
# `make test` runs it first.
lint: $(STATE)/dev-tools.ok
	$(VENV)/bin/ruff check .
	cd dbt_project && VB_DUCKDB_PATH=:memory: DBT_TARGET_PATH=$(abspath $(STATE))/lint-target \
	  ../$(VENV)/bin/sqlfluff lint models tests --disable-progress-bar --nocolor
	$(VENV)/bin/nbstripout --keep-id --verify notebooks/*.ipynb
	$(PY) -m grader assign --check
$(STATE)/dev-tools.ok: $(STATE)/venv.ok requirements-dev.txt
	@$(call install,-r requirements-dev.txt -c requirements.txt)
	@touch $@
# END INSTRUCTOR

# Drop the dev warehouse and replayed clickstream arrivals; the next make rebuilds from the raw data.
reset-warehouse: venv
	rm -f dbt_project/warehouse/dev.duckdb dbt_project/warehouse/dev.duckdb.wal $(STATE)/warehouse.ok
	$(PY) -m datasets.arrivals --raw $(RAW) --reset

clean:
	rm -rf $(STATE) dbt_project/target dbt_project/logs dbt_project/warehouse/*.duckdb*
