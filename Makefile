# Every target builds .venv from pyproject.toml and uv.lock first when it is missing or older than
# either, so each is one command on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
PYTEST_ARGS ?=
DIST ?= dist
BENCH ?=

.PHONY: help install test node-test contract-test lint format bench soak check-receiver stub-site dist clean refuse-secret-value

help:
	@echo "make contract-test   real MLflow server + reference sender + stub site: prove they agree"
	@echo "make contract-test SENDER_CMD='...'   the same, judging that sender command instead"
	@echo "make test            the whole test suite (Python and Node.js)"
	@echo "make check-receiver URL=... TOKEN=... [SECRET_ENV=NAME] [STATE_URL=...]   judge any receiver"
	@echo "make stub-site       serve the stub website on port 8000 (token LSCOR; secret in WEBHOOK_SECRET)"
	@echo "make lint            ruff and mypy"
	@echo "make bench [BENCH=core|receiver|contract-test|setup]   benchmarks, written to reports/bench.json"
	@echo "make soak            the long reliability run"
	@echo "make dist            the wheel, the sdist and the Node.js client's tarball, in dist/"

# uv installs the locked set (uv.lock) in seconds: the one on PATH, else one pip-installed into
# the venv (it is part of the locked dev set, so the sync keeps it). The commands need the
# harness extra only ($(STAMP)); the tests and linters need the dev extra too ($(DEV_STAMP)), which
# includes it. The harness sync is --inexact, so that it never removes the dev tools, and both
# compile the bytecode, so that no run compiles it again (nor each run, where Python is told not
# to write it).
UV_SYNC = @test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); \
	command -v uv >/dev/null 2>&1 || test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet uv; \
	UV="$$(command -v uv || echo $(BIN)/uv)"; \
	UV_PROJECT_ENVIRONMENT=$(VENV) "$$UV" sync --quiet --frozen --compile-bytecode

$(STAMP): pyproject.toml uv.lock
	$(UV_SYNC) --extra harness --inexact
	@touch $(STAMP)

$(DEV_STAMP): pyproject.toml uv.lock
	$(UV_SYNC) --extra dev
	@touch $(STAMP) $(DEV_STAMP)

install: $(DEV_STAMP)

test: $(DEV_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	@if [ -d clients/node ]; then $(MAKE) --no-print-directory node-test; fi

# The Node tests need their devDependencies (Ajv): installed from the lock file when
# node_modules is missing or older than package-lock.json. The client itself has none.
node-test:
	@cd clients/node && if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then \
		echo "npm ci --no-audit --no-fund (clients/node)"; npm ci --no-audit --no-fund; fi
	cd clients/node && node --test

# RECEIVER_URL (with RECEIVER_SECRET_ENV, RECEIVER_TOKEN, RECEIVER_SPARE_TOKENS, RECEIVER_STATE_URL)
# judges that receiver instead of the stub site and the Node.js handler; SENDER_CMD (with
# SENDER_TOKENS, SENDER_FAIL_FIRST) judges that command instead of the reference sender. Each
# becomes the flag of the same name. The URLs are not echoed: the command shows them without
# credentials. SENDER_CMD is passed as one single-quoted word (its own quotes kept).
comma := ,
quote := '
contract-test: $(STAMP)
	@echo "hokusai-contract contract-test$(if $(RECEIVER_URL), --receiver-url ...)$(if $(SENDER_CMD), --sender-command ...)"
	@$(BIN)/hokusai-contract contract-test \
		$(if $(RECEIVER_URL),--receiver-url "$(RECEIVER_URL)") \
		$(if $(RECEIVER_SECRET_ENV),--receiver-secret-env "$(RECEIVER_SECRET_ENV)") \
		$(if $(RECEIVER_TOKEN),--receiver-token "$(RECEIVER_TOKEN)") \
		$(foreach spare,$(subst $(comma), ,$(RECEIVER_SPARE_TOKENS)),--receiver-spare-token "$(spare)") \
		$(if $(RECEIVER_STATE_URL),--receiver-state-url "$(RECEIVER_STATE_URL)") \
		$(if $(SENDER_CMD),--sender-command '$(subst $(quote),$(quote)\$(quote)$(quote),$(SENDER_CMD))') \
		$(foreach token,$(subst $(comma), ,$(SENDER_TOKENS)),--sender-token "$(token)") \
		$(if $(SENDER_FAIL_FIRST),--sender-fail-first "$(SENDER_FAIL_FIRST)")

# The secret stays in the environment: SECRET_ENV=NAME names the variable holding it (default
# WEBHOOK_SECRET). A value on the command line (SECRET=...) is refused: ps shows it, and MAKEFLAGS
# hands it to every child process. The URL is not echoed: the command shows it without credentials.
check-receiver: $(if $(filter command line,$(origin SECRET)),refuse-secret-value,$(STAMP))
	@test -n "$(URL)" || (echo "usage: make check-receiver URL=http://host/api/webhooks/model-registration TOKEN=LSCOR [SECRET_ENV=NAME] [STATE_URL='http://host/api/tokens/{token_id}'] [SPARE_TOKENS='OTHER SPARE THIRD'] [ALSO_URLS='http://host/api/mlflow/registered'] [STRICT=1] [SETTLE=S] [SEED=N]"; exit 2)
	@echo "hokusai-contract check-receiver --token $(or $(TOKEN),LSCOR) --secret-env $(or $(SECRET_ENV),WEBHOOK_SECRET) ..."
	@$(BIN)/hokusai-contract check-receiver --url "$(URL)" \
		--secret-env "$(or $(SECRET_ENV),WEBHOOK_SECRET)" \
		--token "$(or $(TOKEN),LSCOR)" $(if $(STATE_URL),--state-url "$(STATE_URL)") \
		$(foreach spare,$(SPARE_TOKENS),--spare-token "$(spare)") \
		$(foreach also,$(ALSO_URLS),--also-url "$(also)") \
		$(if $(STRICT),--strict) $(if $(SETTLE),--settle "$(SETTLE)") $(if $(SEED),--seed "$(SEED)") \
		--junit reports/check-receiver.xml --json reports/check-receiver.json

refuse-secret-value:
	$(error SECRET=... is refused (ps and every child process would see it): export the secret and pass its name, SECRET_ENV=NAME (default WEBHOOK_SECRET))

lint: $(DEV_STAMP)
	$(BIN)/ruff check contracts tests benchmarks
	$(BIN)/ruff format --check contracts tests benchmarks
	$(BIN)/mypy

format: $(DEV_STAMP)
	$(BIN)/ruff format contracts tests benchmarks
	$(BIN)/ruff check --fix contracts tests benchmarks

bench: $(DEV_STAMP)
	$(BIN)/python -m benchmarks $(if $(BENCH),--only $(BENCH))

soak: $(DEV_STAMP)
	$(BIN)/python -m pytest -m soak --soak $(PYTEST_ARGS)

stub-site: $(STAMP)
	$(BIN)/hokusai-contract stub-site --port 8000 --secret-env WEBHOOK_SECRET --token LSCOR

# The Python wheel and sdist (uv build) and the Node.js client's tarball (npm pack: its prepack
# script copies schemas/ into the package folder for the packing, postpack removes it), all in
# $(DIST). Both packages carry the version of contracts/__init__.py; a package.json saying
# another stops the build.
dist: $(STAMP)
	@PY="$$($(BIN)/python -c 'import contracts; print(contracts.__version__)')"; \
	  NODE="$$(node -p 'require("./clients/node/package.json").version')"; \
	  test "$$PY" = "$$NODE" || { echo "clients/node/package.json has version $$NODE, contracts/__init__.py $$PY: set both to the same"; exit 1; }
	rm -rf $(DIST)
	@UV="$$(command -v uv || echo $(BIN)/uv)"; \
	  echo "uv build --out-dir $(DIST)"; "$$UV" build --quiet --out-dir $(DIST)
	cd clients/node && npm pack --silent --pack-destination "$(abspath $(DIST))"

clean:
	rm -rf $(VENV) reports .pytest_cache .mypy_cache .ruff_cache .hypothesis $(DIST) build clients/node/schemas
