"""The in-process fake model behaves like the parts of the provider the seam relies on."""

from __future__ import annotations

import asyncio

import openai

from tests.fake_model import MALFORMED, FakeModel, status_error, take
from tests.helpers import SEED_A
from tests.test_panel import review, takes_by_persona
from toolpanel.config import load_settings
from toolpanel.panel.llm import LLM


def test_a_rejected_mode_is_discovered_once_through_the_seam(fake_model):
    fake_model.reject_modes = {"json_schema"}
    _, [res] = review([SEED_A])
    assert {t.output_mode for t in res.takes} == {"json_object_schema"} and res.verdict.quorum_met
    assert [r.mode for r in fake_model.requests].count("json_schema") == 1  # remembered, not asked per persona


def test_queues_run_out_into_the_default_and_errors_are_the_clients_own(fake_model):
    fake_model.enqueue("builder", MALFORMED, take(70)).enqueue("skeptic", status_error(429))
    _, [res] = review([SEED_A])
    t = takes_by_persona(res)
    assert (t["builder"].status, t["builder"].score, t["builder"].flags) == ("ok", 70, ["repaired"])
    assert (t["skeptic"].status, t["skeptic"].error_class) == ("failed", "RateLimitError")
    # 5 takes, the builder's repair and the chair's panel summary (issue 27)
    assert fake_model.calls() == 7 and fake_model.calls(persona="skeptic") == 1


def test_llm_take_sends_the_settings_body(tp_home, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    settings = load_settings()
    fake = FakeModel()
    llm = LLM(settings, client=fake, output_mode="json_object")
    messages = [{"role": "user", "content": "Persona id: builder\nTool slug: acme"}]
    done = asyncio.run(llm.take(messages, "m-1", lambda err: {"role": "user", "content": "REPAIR: " + err}))
    assert done.output is not None and done.mode == "json_object" and llm.requests == 0
    assert fake.requests[0].body == {"model": "m-1", "messages": messages, "max_tokens": settings.max_tokens,
                                     "temperature": settings.temperature, "response_format": {"type": "json_object"}}
    assert isinstance(status_error(500), openai.InternalServerError)
