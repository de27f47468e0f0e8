# careops: `make run` sets everything up and serves the API; `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Everything careops writes (stores, keys, credentials, the MLflow file) is readable by its owner only.
CAREOPS := umask 077 && $(BIN)/careops
STATE := .careops
APPOINTMENTS := $(STATE)/data/appointments.csv
CLAIMS := $(STATE)/data/claims.csv
TOMORROW := $(STATE)/data/tomorrow.csv
TO_SUBMIT := $(STATE)/data/claims-to-submit.csv
APPOINTMENT_ROWS ?= 100000
CLAIM_ROWS ?= 50000
HOST ?= 127.0.0.1
PORT ?= 8000
# The running service's commands: its audit key, pseudonym key and system API keys.
SERVICE := umask 077 && CAREOPS_AUDIT_KEY_FILE=$(STATE)/audit-key \
	CAREOPS_PSEUDONYM_KEY=$${CAREOPS_PSEUDONYM_KEY:-$$(cat $(STATE)/pseudonym-key)} \
	CAREOPS_API_KEYS_FILE=$(STATE)/api-keys $(BIN)/careops

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
	@umask 077; mkdir -p $(STATE)
	@test -s $(STATE)/audit-key || (umask 077; $(BIN)/python -c \
		'import secrets; print(secrets.token_urlsafe(32))' > $(STATE)/audit-key)
	@test -s $(STATE)/pseudonym-key || (umask 077; $(BIN)/python -c \
		'import secrets; print(secrets.token_urlsafe(32))' > $(STATE)/pseudonym-key)
	@if [ -z "$$CAREOPS_API_KEYS" ]; then $(SERVICE) keys --file $(STATE)/api-keys; fi
	@if [ ! -s $(STATE)/demo-users ]; then \
		$(SERVICE) users add sam --role scheduler --to $(STATE)/demo-users && \
		$(SERVICE) users add bea --role biller --to $(STATE)/demo-users && \
		$(SERVICE) users add ada --role admin --to $(STATE)/demo-users; fi
	$(SERVICE) tomorrow --data $(APPOINTMENTS) --out $(TOMORROW) --claims $(CLAIMS) --claims-out $(TO_SUBMIT)
	$(SERVICE) book $(TOMORROW)
	$(SERVICE) queue $(TO_SUBMIT)
	@$(SERVICE) examples --appointments $(APPOINTMENTS) --claims $(CLAIMS) --keys-file $(STATE)/api-keys \
		--users-file $(STATE)/demo-users --base-url http://$(HOST):$(PORT)
	@echo "Monitoring: export CAREOPS_PSEUDONYM_KEY=\$$(cat $(STATE)/pseudonym-key); careops monitor noshow"
	@echo "Audit: CAREOPS_AUDIT_KEY_FILE=$(STATE)/audit-key careops audit verify"
	$(SERVICE) serve --host $(HOST) --port $(PORT)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The sign-in tests' OpenID provider (npm's oidc-provider, pinned by its lock file), where node is.
OIDC := tests/oidc/node_modules/.package-lock.json
$(OIDC): tests/oidc/package-lock.json
	npm ci --prefix tests/oidc --no-audit --no-fund --loglevel=error

# The suite runs on TEST_WORKERS processes (pytest-xdist), a test file to each at a time.
TEST_WORKERS ?= 2

test: venv
	@if command -v npm >/dev/null; then $(MAKE) --no-print-directory $(OIDC); fi
	$(BIN)/ruff check .
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

bench: venv
	$(BIN)/pytest -o addopts="-ra --strict-markers" tests/benchmarks -s

clean:
	rm -rf $(STATE) mlflow.db careops.db careops.db-* careops-audit.db careops-audit.db-* mlruns mlartifacts .pytest_cache .ruff_cache
