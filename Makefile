# The two commands in the README. Each sets up everything it needs on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-dev

.PHONY: demo test test-all lint bench readme clean

demo: $(STAMP)
	@sh scripts/system-deps.sh browser
	$(VENV)/bin/ipbind demo

# The fast tier: every flow end to end, every decision and command (see the README).
test: $(STAMP)
	@sh scripts/system-deps.sh test
	$(PY) -m ruff check .
	sh scripts/pytest.sh --durations=25

# Everything: the fast tier and the matrices, slow cases and chaos at full timing (CI).
test-all: $(STAMP)
	@sh scripts/system-deps.sh test
	$(PY) -m ruff check .
	sh scripts/pytest.sh --all --durations=25

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

bench: $(STAMP)
	@sh scripts/system-deps.sh browser
	@# Each reports and exits 1 on a missed target; all three run, and make fails if any did.
	@s=0; \
	$(PY) bench/run.py || s=1; \
	$(PY) bench/parallel.py || s=1; \
	$(PY) bench/bittrex_resume.py || s=1; \
	exit $$s

readme: $(STAMP)
	$(PY) scripts/readme_exchanges.py

$(STAMP): pyproject.toml
	@sh scripts/venv.sh $(PYTHON) $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-results
