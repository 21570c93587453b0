"""Provenance that ignores non-changes: a run's provider endpoint is an identity (toolpanel.panel.provider), so
`why` never calls the local model server's new port a provider change, and does name a new model file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.helpers import SEED_A, rows
from tests.test_changes import facts
from tests.test_panel import review
from toolpanel.why.changes import attribute
from toolpanel.why.words import detail_lines, summary
from toolpanel.config import load_settings
from toolpanel.panel.provider import (OPENAI_DEFAULT, endpoint_identity, normalise_endpoint, same_endpoint,
                                uses_local_server)
from warehouse.store import Warehouse
from warehouse.changes import explain

SLUG = "smolvlm2-turbo"


def gguf(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / "models" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(b"GGUF" + content)
    return path


def local_settings(tp_home: Path, model: Path, **kw):
    """Settings as `resolved_settings` hands them to the panel for the local model: its server's loopback
    URL (a new port each run) and the key toolpanel gives that server."""
    Path("toolpanel.toml").write_text(f'[local]\ngguf = "{model}"\n')
    return load_settings(api_key="local", **kw)


# -- the identity ----------------------------------------------------------------------------------


def test_local_model_is_its_file_and_hash_never_its_port(tp_home, tmp_path):
    model = gguf(tmp_path, "SmolLM2-135M-Instruct.Q4_1.gguf", b"weights v1")
    unresolved = local_settings(tp_home, model)
    a = unresolved.model_copy(update={"base_url": "http://127.0.0.1:52673/v1"})
    b = unresolved.model_copy(update={"base_url": "http://127.0.0.1:51763/v1"})
    assert uses_local_server(a) and uses_local_server(b)
    ident = endpoint_identity(a)
    assert ident == endpoint_identity(b)
    assert ident.startswith("local:SmolLM2-135M-Instruct.Q4_1.gguf@sha256:") and "52673" not in ident
    # before its server started (no provider configured at all) it is the same identity
    Path("toolpanel.toml").write_text(f'[local]\ngguf = "{model}"\n')
    assert load_settings().uses_local_model and endpoint_identity(load_settings()) == ident
    # cached by (path, size, mtime) on disk: a fresh process reads, does not re-hash
    cached = json.loads((tp_home / "cache" / "model-hashes.json").read_text())
    assert ident.endswith(cached[str(model.resolve())]["sha256"][:16])
    # new content, new identity (same name)
    model.write_bytes(b"GGUF weights v2")
    os.utime(model, ns=(model.stat().st_atime_ns, model.stat().st_mtime_ns + 1_000_000))
    other = endpoint_identity(a)
    assert other != ident and other.startswith("local:SmolLM2-135M-Instruct.Q4_1.gguf@sha256:")


def test_loopback_base_url_loses_its_port_others_keep_theirs(tp_home, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    for url, ident in [("http://127.0.0.1:11434/v1", "http://localhost/v1"),
                       ("http://localhost:8000/v1/", "http://localhost/v1"),
                       ("http://[::1]:9/v1", "http://localhost/v1"),
                       ("https://openrouter.ai/api/v1", "https://openrouter.ai/api/v1"),
                       ("https://gpu-box.lan:8443/v1", "https://gpu-box.lan:8443/v1"),
                       ("https://API.example.com:443/v1", "https://api.example.com/v1")]:
        monkeypatch.setenv("OPENAI_BASE_URL", url)
        assert endpoint_identity(load_settings()) == ident, url
    monkeypatch.delenv("OPENAI_BASE_URL")
    assert endpoint_identity(load_settings()) == OPENAI_DEFAULT  # a key and no base_url: OpenAI itself


def test_old_rows_read_as_identities():
    demo = {"builder": "smollm2-135m-instruct", "skeptic": "smollm2-135m-instruct"}
    assert normalise_endpoint("http://127.0.0.1:52673/v1", demo) == "local"  # the bundled model, file unknown
    assert normalise_endpoint("http://127.0.0.1:52673/v1", {"builder": "llama3"}) == "http://localhost/v1"
    assert normalise_endpoint(None) == OPENAI_DEFAULT
    assert same_endpoint("local", "local:SmolLM2-135M-Instruct.Q4_1.gguf@sha256:abcd")  # unknown is not a change
    assert not same_endpoint("local:a.gguf@sha256:1", "local:a.gguf@sha256:2")
    assert not same_endpoint("local", "https://openrouter.ai/api/v1")


# -- the explanation -------------------------------------------------------------------------------


def _facts(n: int, base_url, models=None):
    return facts(n, settings={"temperature": 0.4, "base_url": base_url},
                 **({"models": models} if models else {}))


def test_attribution_compares_identities_not_addresses():
    same = attribute(_facts(1, "http://127.0.0.1:52673/v1"), _facts(2, "http://127.0.0.1:51763/v1"))
    assert same.settings == [] and same.identical_inputs
    assert "endpoint" not in summary(same) and not any("endpoint" in t for _, t in detail_lines(same))

    demo = {"skeptic": "smollm2-135m-instruct", "builder": "smollm2-135m-instruct"}
    old_row = attribute(_facts(1, "http://127.0.0.1:52673/v1", demo),
                        _facts(2, "local:SmolLM2-135M-Instruct.Q4_1.gguf@sha256:1a2b3c4d5e6f7a8b", demo))
    assert old_row.settings == []  # the old row's file is unknown: not claimed as a change

    new_file = attribute(_facts(1, "local:SmolLM2-135M-Instruct.Q4_1.gguf@sha256:1a2b3c4d5e6f7a8b"),
                         _facts(2, "local:SmolLM2-135M-Instruct.Q4_1.gguf@sha256:99aa88bb77cc66dd"))
    assert "the local model file SmolLM2-135M-Instruct.Q4_1.gguf changed (sha256 1a2b3c4d → 99aa88bb)" \
        in summary(new_file)
    renamed = attribute(_facts(1, "local:SmolLM2-135M-Instruct.Q4_1.gguf@sha256:1a2b"),
                        _facts(2, "local:Qwen2.5-0.5B-Instruct.Q4_K_M.gguf@sha256:3c4d"))
    assert ("the local model file changed (SmolLM2-135M-Instruct.Q4_1.gguf → Qwen2.5-0.5B-Instruct.Q4_K_M.gguf)"
            in summary(renamed))
    moved = attribute(_facts(1, "local:SmolLM2-135M-Instruct.Q4_1.gguf@sha256:1a2b"),
                      _facts(2, "https://openrouter.ai/api/v1"))
    assert ("the provider endpoint changed (the local model SmolLM2-135M-Instruct.Q4_1.gguf (sha256 1a2b) → "
            "'https://openrouter.ai/api/v1')") in summary(moved)
    no_record = attribute(facts(1), _facts(2, "https://openrouter.ai/api/v1"))  # an older run recorded none
    assert no_record.settings == []


# -- through the panel and the warehouse -----------------------------------------------------------


def test_why_ignores_a_new_loopback_port(fake_model, monkeypatch):
    """Two runs whose only difference is the port of a loopback provider: no endpoint change."""
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:52673/v1")
    settings, _ = review([SEED_A])
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:51763/v1")
    review([SEED_A], force=True, reason="again")
    change = explain(Warehouse(settings.warehouse_path), SLUG)
    assert change is not None and change.settings == [] and change.identical_inputs
    assert "endpoint" not in summary(change) and "51763" not in summary(change)


def test_why_names_a_new_model_file(fake_model, tp_home, tmp_path):
    """The local model (as resolved: a loopback URL on a new port each run, toolpanel's own key) with a
    different model file between the runs: `why` names the file and its hashes."""
    model = gguf(tmp_path, "SmolLM2-135M-Instruct.Q4_1.gguf", b"weights v1")
    s1 = local_settings(tp_home, model, base_url="http://127.0.0.1:52673/v1")
    first = endpoint_identity(s1)
    from toolpanel.ingest.cards import load_cards
    from toolpanel.panel.personas import load_personas
    from toolpanel.panel.batch import run_review

    tools, _ = load_cards([SEED_A])
    personas = load_personas(s1.personas_dir)
    run_review(s1, personas, tools)
    model.write_bytes(b"GGUF weights v2 (requantised)")
    s2 = local_settings(tp_home, model, base_url="http://127.0.0.1:51763/v1")
    second = endpoint_identity(s2)
    run_review(s2, personas, tools, force=True, reason="new weights")
    recorded = [json.loads(r[0])["base_url"] for r in rows(s1.warehouse_path,
                                                            "SELECT settings FROM runs ORDER BY started_at")]
    assert recorded == [first, second]
    change = explain(Warehouse(s1.warehouse_path), SLUG)
    assert (f"the local model file SmolLM2-135M-Instruct.Q4_1.gguf changed (sha256 {first[-16:][:8]} → "
            f"{second[-16:][:8]})") in summary(change)
    assert not change.identical_inputs


@pytest.fixture(autouse=True)
def _fresh_hash_cache(monkeypatch):
    from toolpanel.panel import local_model

    monkeypatch.setattr(local_model, "_hashes", {})

