# careops: `make run` sets everything up and serves the API; `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CAREOPS := $(BIN)/careops
STATE := .careops
APPOINTMENTS := $(STATE)/data/appointments.csv
CLAIMS := $(STATE)/data/claims.csv
TOMORROW := $(STATE)/data/tomorrow.csv
TO_SUBMIT := $(STATE)/data/claims-to-submit.csv
APPOINTMENT_ROWS ?= 100000
CLAIM_ROWS ?= 50000
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test bench lint data train venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "careops needs Python 3.11 or newer; set PYTHON=python3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

$(APPOINTMENTS): | $(VENV)/.installed
	$(CAREOPS) generate appointments --rows $(APPOINTMENT_ROWS) --seed 42 --out $@

$(CLAIMS): | $(VENV)/.installed
	$(CAREOPS) generate claims --rows $(CLAIM_ROWS) --seed 42 --out $@

data: $(APPOINTMENTS) $(CLAIMS)

train: data
	$(CAREOPS) train noshow --data $(APPOINTMENTS) --skip-if-champion
	$(CAREOPS) train denial --data $(CLAIMS) --skip-if-champion

run: train
	@if [ -z "$$CAREOPS_API_KEYS" ]; then $(CAREOPS) keys --file $(STATE)/api-keys; fi
	$(CAREOPS) tomorrow --data $(APPOINTMENTS) --out $(TOMORROW) --claims $(CLAIMS) --claims-out $(TO_SUBMIT)
	$(CAREOPS) book $(TOMORROW)
	$(CAREOPS) queue $(TO_SUBMIT)
	@test -s $(STATE)/pseudonym-key || (umask 077; $(BIN)/python -c \
		'import secrets; print(secrets.token_urlsafe(32))' > $(STATE)/pseudonym-key)
	@$(CAREOPS) examples --appointments $(APPOINTMENTS) --claims $(CLAIMS) --keys-file $(STATE)/api-keys \
		--base-url http://$(HOST):$(PORT)
	@echo "Monitoring: export CAREOPS_PSEUDONYM_KEY=\$$(cat $(STATE)/pseudonym-key); careops monitor noshow"
	CAREOPS_PSEUDONYM_KEY=$${CAREOPS_PSEUDONYM_KEY:-$$(cat $(STATE)/pseudonym-key)} \
		CAREOPS_API_KEYS_FILE=$(STATE)/api-keys $(CAREOPS) serve --host $(HOST) --port $(PORT)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: venv
	$(BIN)/ruff check .
	$(BIN)/pytest

bench: venv
	$(BIN)/pytest -o addopts="-ra --strict-markers" tests/benchmarks -s

clean:
	rm -rf $(STATE) mlflow.db careops.db mlruns mlartifacts .pytest_cache .ruff_cache
