# Two entry points for a fresh machine (both idempotent):
#   make run    install into .venv and run the pipeline on the embedded synthetic dataset
#   make test   install into .venv and run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= all
STAMP := $(VENV)/.installed

.PHONY: install run test bench clean browser

$(STAMP): pyproject.toml envs/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r envs/requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" snakemake --cores $(CORES)

# Debian's Chromium for the listening-page test (installed when we may use apt; the
# test is skipped, saying why, on a machine without it).
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	  || echo "note: chromium not installed; the browser test will be skipped"; }

test: $(STAMP) browser
	PATH="$(abspath $(BIN)):$$PATH" pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf data/raw data/manifest.csv data/segments data/spectrograms data/adversarial \
	       data/reconstructed data/predictions models reports/* logs benchmarks .snakemake
