# Every target installs what it needs into .venv on first use (a fresh clone needs only
# python3 >= 3.11 with venv). `make run` serves the demo with the runtime packages only;
# `make test`, `lint` and `bench` add the development extra (pytest, mypy, scipy...).
PYTHON    ?= python3
VENV      ?= .venv
BIN       := $(VENV)/bin
RUNTIME   := $(VENV)/.runtime-stamp
DEV       := $(VENV)/.dev-stamp
# setuptools' notice that an editable install maps the top-level folders (it is meant to)
QUIET_EDITABLE := PYTHONWARNINGS="ignore:Editable installation"

.PHONY: run test lint bench format clean prompts browser-deps

$(RUNTIME): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(QUIET_EDITABLE) $(BIN)/python -m pip install --quiet -e .
	@touch $(RUNTIME)

$(DEV): $(RUNTIME)
	$(QUIET_EDITABLE) $(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(DEV)

run: $(RUNTIME)
	$(BIN)/callcenter serve --demo

test: $(DEV)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(DEV)
	$(BIN)/python -m bench

# IVR prompts: agi/ivr/prompts.json -> asterisk-conf/sounds/{zh,en}/hotline/*.wav (8 kHz);
# needs Debian's espeak-ng and sox, installed here when missing. Unchanged texts are skipped.
prompts: $(RUNTIME)
	@command -v espeak-ng >/dev/null && command -v sox >/dev/null || \
		{ apt-get update -q && apt-get install -y -q espeak-ng sox; }
	$(BIN)/python -m agi.ivr.render_prompts --out asterisk-conf/sounds

# The wallboard's browser test (tests/browser) needs Debian's chromium and a CJK font,
# else its Chinese renders as tofu; installed here when missing (.ci/run calls this).
browser-deps:
	@command -v chromium >/dev/null && fc-list :lang=zh family | grep -q . || \
		{ apt-get update -q && apt-get install -y -q --no-install-recommends \
			chromium fonts-wqy-microhei fontconfig; }

format: $(DEV)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache var
