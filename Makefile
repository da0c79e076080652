# ecom-analytics: every target sets itself up; each is idempotent.
#   make report   set up, fetch the embedded data, run every notebook (full profile) -> reports/
#   make test     set up, lint, unit + notebook tests + nbval
#   make lab      JupyterLab on the project environment
#   make bench    benchmark tables -> reports/bench/
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.ecom-installed
PROFILE ?= full
export ECOM_HOME := $(CURDIR)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup system data report test lint unit nbtest nbval lab bench notebooks clean

setup: $(STAMP) system

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip wheel
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,spark]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (ecom)" >/dev/null
	@touch $(STAMP)

# System packages (Fashion-MNIST images, headless Chromium for report tests) when we can
# use apt as root; otherwise say what is missing and go on.
system:
	@if [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] && command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  (apt-get install -y -q dataset-fashion-mnist chromium chromium-driver >/dev/null 2>&1 || \
	   (apt-get update -q >/dev/null && apt-get install -y -q dataset-fashion-mnist chromium chromium-driver >/dev/null)) \
	  || echo "warning: apt-get could not install dataset-fashion-mnist/chromium"; \
	else echo "note: not root; install 'dataset-fashion-mnist' and 'chromium' with your package manager (see README)"; fi
	@# Java 17 for the Spark engine (ecomlib.data.engines)
	@if command -v java >/dev/null || [ -n "$$JAVA_HOME" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  (apt-get install -y -q openjdk-17-jre-headless >/dev/null 2>&1 || \
	   (apt-get update -q >/dev/null && apt-get install -y -q openjdk-17-jre-headless >/dev/null)) \
	  || echo "warning: apt-get could not install openjdk-17-jre-headless (the Spark engine needs Java 17)"; \
	else echo "note: no java; install Java 17 (Debian: openjdk-17-jre-headless) for the Spark engine, or set ECOM_SPARK_MASTER=sc://HOST:PORT"; fi

data: setup
	$(BIN)/ecom data fetch

report: data
	$(BIN)/ecom run --profile $(PROFILE)

lint: setup
	$(BIN)/ruff check ecomlib tests benchmarks
	$(BIN)/ruff format --check ecomlib tests benchmarks

test: data lint
	$(BIN)/python -m pytest -n 2 --dist loadscope tests notebooks --nbval --nbval-current-env \
	  --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout 1800 -p no:cacheprovider \
	  --durations=25

lab: data
	$(BIN)/jupyter lab --notebook-dir notebooks $(if $(filter 0,$(shell id -u)),--allow-root,)

bench: data
	$(BIN)/python -m benchmarks.run

# Re-execute the committed notebooks at their defaults (what nbval compares against).
notebooks: data
	$(BIN)/ecom refresh

clean:
	rm -rf $(VENV) data/raw data/cache .pytest_cache
