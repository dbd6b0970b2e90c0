# Two entry points for a fresh machine (both idempotent):
#   make run    install into .venv and run the pipeline on the embedded synthetic dataset
#   make test   install into .venv and run the test suite (both layers)
# While editing: make test-fast (tests/unit: no Snakemake or DVC run, under 3 minutes)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= all
STAMP := $(VENV)/.installed

.PHONY: install run test test-fast bench clean system-packages report lint dvc.yaml

$(STAMP): pyproject.toml envs/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r envs/requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" snakemake --cores $(CORES)

# System packages for two tests, installed when we may use apt (root): Debian's Chromium
# for the listening page, and SLURM + munge + MariaDB for the real single-node cluster the
# SLURM profile runs on. Without them those tests are skipped, saying why (outside CI).
SYSTEM_PACKAGES := chromium slurmctld slurmd slurmdbd slurm-client munge mariadb-server
system-packages:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      $$missing >/dev/null; \
	  else echo "note: not installed: $$missing (needs root and apt); those tests will be skipped"; fi; \
	fi

test: $(STAMP) system-packages
	PATH="$(abspath $(BIN)):$$PATH" pytest -q --durations=12 $(PYTEST_ARGS) tests/unit tests/workflow

test-fast: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" pytest -q --durations=8 $(PYTEST_ARGS) tests/unit

# Snakemake's self-contained HTML report of the last run: tables, figures, per-rule runtimes
report: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" snakemake --report reports/report.html

# ruff (settings in pyproject.toml), snakefmt --check, snakemake --lint, and dvc.yaml in
# step with the workflow it is derived from. CI runs it before the tests.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/snakefmt --check Snakefile workflow/rules
	PATH="$(abspath $(BIN)):$$PATH" snakemake --lint
	PATH="$(abspath $(BIN)):$$PATH" python -m crossrep.dvc_stages --check

# dvc.yaml is derived from the Snakemake rules; rewrite it after changing them
# (a preset: make dvc.yaml CONFIGFILE=presets/x.yaml)
dvc.yaml: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" python -m crossrep.dvc_stages $(if $(CONFIGFILE),--configfile $(CONFIGFILE))

# every bench/*.py but the shared timer
bench: $(STAMP)
	for b in $(filter-out bench/timing.py,$(wildcard bench/*.py)); do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf data/raw data/manifest.csv data/segments data/spectrograms data/adversarial \
	       data/predictions data/transfer data/snr data/eps_sweep data/study models logs benchmarks \
	       .snakemake reports/audio reports/study_audio reports/figures reports/tables reports/plots reports/index.html \
	       reports/report.html
