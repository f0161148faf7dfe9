# One command to run the platform, one to test it. Both install what they need first.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
M2     := $(abspath $(or $(IOT_CACHE_DIR),.iot-platform/cache)/m2)

.PHONY: setup browser run test lint jvm-test unit integration bench stop status clean

setup: $(STAMP)
	@bash .ci/system-deps.sh

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	@touch $(STAMP)

## Debian's chromium, which the dashboard's browser tests drive through Playwright (never `playwright install`).
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
	  if [ "$$(id -u)" -ne 0 ]; then echo "error: please install chromium (needs root)" >&2; exit 1; fi; \
	  echo "installing chromium"; apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }

## The main job: stack up (Kafka, Spark, catalog, Dagster, API, generator), then the latest hours materialized.
run: setup
	$(BIN)/iot-platform stack up
	$(BIN)/iot-platform demo

## Every test: lint, types, the Spark functions' own tests, then (with every jar prepared) unit and integration
## tests against a real stack the tests start themselves.
test: setup lint jvm-test browser
	$(BIN)/iot-platform stack fetch
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check iot_platform iot_platform_tests bench
	$(BIN)/mypy iot_platform

## The platform's Spark functions (jvm/, a Maven module): compile them and run their unit tests.
jvm-test: setup
	mvn -B -ntp -f jvm/pom.xml -Dmaven.repo.local=$(M2) verify

unit: setup
	$(BIN)/pytest -m "not integration"

integration: setup browser
	$(BIN)/pytest -m integration

bench: setup
	@for b in $(filter-out bench/support.py,$(wildcard bench/*.py)); do echo "== $$b"; $(BIN)/python $$b || exit 1; done

status:
	$(BIN)/iot-platform stack status

stop:
	$(BIN)/iot-platform stack down

clean: stop
	rm -rf .iot-platform/data .iot-platform/logs .iot-platform/run .iot-platform/test*
