"""The fake OpenAI server, exercised through the real `openai` client over loopback."""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import socket
import time
import urllib.error
import urllib.request

import openai
import pytest

from tests.fake_openai import FakeOpenAI, default_score

TAKE_SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "take",
        "strict": True,
        "schema": {
            "type": "object",
            "additionalProperties": False,
            "required": ["abstain", "score", "verdict", "paragraph"],
            "properties": {
                "abstain": {"type": "boolean"},
                "score": {"type": ["integer", "null"]},
                "verdict": {"type": ["string", "null"], "enum": ["ship", "skip", None]},
                "paragraph": {"type": "string"},
            },
        },
    },
}
JSON_OBJECT = {"type": "json_object"}
FENCE_RE = re.compile(r"```json\s*(\{.*?\})\s*```", re.S)


def _client(fake: FakeOpenAI, **kw) -> openai.OpenAI:
    kw.setdefault("max_retries", 0)
    kw.setdefault("timeout", 5.0)
    return openai.OpenAI(base_url=fake.base_url, api_key="test-key", **kw)


def _messages(persona: str | None = "skeptic", tool: str | None = "acme-notes") -> list[dict]:
    head = []
    if persona:
        head.append(f"Persona id: {persona}")
    if tool:
        head.append(f"Tool slug: {tool}")
    return [
        {"role": "system", "content": "You are a reviewer on a panel.\n" + "\n".join(head)},
        {"role": "user", "content": "Write your take as JSON."},
    ]


def _repair(messages: list[dict], bad: str) -> list[dict]:
    return messages + [
        {"role": "assistant", "content": bad},
        {"role": "user", "content": "REPAIR: your reply was not a valid take. Reply with the JSON only."},
    ]


def _ask(client, messages, response_format=TAKE_SCHEMA, **kw):
    extra = {} if response_format is None else {"response_format": response_format}
    return client.chat.completions.create(model="fake-model-1", messages=messages, **extra, **kw)


def _take(resp) -> dict:
    return json.loads(resp.choices[0].message.content)


# --------------------------------------------------------------------------- happy path


def test_valid_take_parses_with_json_schema(fake_openai):
    resp = _ask(_client(fake_openai), _messages())
    assert resp.object == "chat.completion"
    assert resp.model == "fake-model-1"
    assert resp.choices[0].finish_reason == "stop"
    assert resp.choices[0].message.role == "assistant"
    take = _take(resp)
    assert take["abstain"] is False
    assert take["score"] == default_score("acme-notes", "skeptic")
    assert 40 <= take["score"] <= 95
    assert take["verdict"] == ("ship" if take["score"] >= 60 else "skip")
    assert 120 <= len(take["paragraph"]) <= 300
    assert "skeptic" in take["paragraph"] and "acme-notes" in take["paragraph"]
    rec = fake_openai.requests[-1]
    assert rec["behaviour"] == "valid"
    assert rec["body"]["response_format"]["type"] == "json_schema"
    assert rec["headers"]["authorization"] == "Bearer test-key"


def test_valid_params_and_json_object_mode(fake_openai):
    fake_openai.script("valid", score=30, paragraph="p" * 150)
    take = _take(_ask(_client(fake_openai), _messages(), response_format=JSON_OBJECT))
    assert take == {"abstain": False, "score": 30, "verdict": "skip", "paragraph": "p" * 150,
                    "evidence": ["acme-notes does one thing"]}
    fake_openai.script("valid", score=30, verdict="ship")
    assert _take(_ask(_client(fake_openai), _messages()))["verdict"] == "ship"


def test_plain_text_mode_wraps_take_in_json_fence(fake_openai):
    content = _ask(_client(fake_openai), _messages(), response_format=None).choices[0].message.content
    assert not content.lstrip().startswith("{")
    match = FENCE_RE.search(content)
    assert match, content
    assert json.loads(match.group(1))["score"] == default_score("acme-notes", "skeptic")


def test_usage_numbers(fake_openai):
    msgs = _messages()
    resp = _ask(_client(fake_openai), msgs, max_tokens=50, max_completion_tokens=50)
    prompt_chars = sum(len(m["content"]) for m in msgs)
    assert resp.usage.prompt_tokens == math.ceil(prompt_chars / 4)
    assert resp.usage.completion_tokens == math.ceil(len(resp.choices[0].message.content) / 4)
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens
    assert resp.usage.completion_tokens > 0


def test_models_endpoint_and_unknown_route(fake_openai):
    client = _client(fake_openai)
    assert [m.id for m in client.models.list()] == ["fake-model-1"]
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(fake_openai.base_url + "/embeddings", data=b"{}", timeout=2)
    assert info.value.code == 404
    err = json.load(info.value)["error"]
    assert {"message", "type", "code"} <= set(err)
    assert fake_openai.calls() == 0  # neither counts as a chat completion


# --------------------------------------------------------------------------- detection & scripting


def test_persona_and_tool_detection_and_routing(fake_openai):
    fake_openai.script("abstain", persona="builder")
    fake_openai.script("contradiction", tool="beta-tool")
    client = _client(fake_openai)
    assert _take(_ask(client, _messages("builder", "acme-notes")))["abstain"] is True
    take = _take(_ask(client, _messages("skeptic", "beta-tool")))
    assert (take["score"], take["verdict"]) == (20, "ship")
    assert _take(_ask(client, _messages("skeptic", "acme-notes")))["abstain"] is False
    _ask(client, _messages(None, None))

    got = [(r["persona"], r["tool"], r["behaviour"]) for r in fake_openai.requests]
    assert got == [
        ("builder", "acme-notes", "abstain"),
        ("skeptic", "beta-tool", "contradiction"),
        ("skeptic", "acme-notes", "valid"),
        (None, None, "valid"),
    ]
    assert fake_openai.calls() == 4
    assert fake_openai.calls(persona="skeptic") == 2
    assert fake_openai.calls(persona="skeptic", tool="beta-tool") == 1
    assert fake_openai.calls(tool="nope") == 0


def test_evidence_quotes_the_card_description(fake_openai):
    card = ("Tool slug: acme-notes\nTOOL-DATA-1\nName: Acme\nDescription:\nAcme keeps meeting notes\nin sync across "
            "every laptop you own, offline first.\nEND-TOOL-DATA-1")
    messages = [{"role": "system", "content": "Persona id: skeptic"}, {"role": "user", "content": card}]
    client = _client(fake_openai)
    assert _take(_ask(client, messages))["evidence"] == ["Acme keeps meeting notes in sync across every"]
    fake_openai.script("ungrounded")
    assert _take(_ask(client, messages))["evidence"] == [
        "the fastest tool of its kind, trusted by every Fortune 500 company"]


def test_contradiction_then_valid_is_fixed_on_repair(fake_openai):
    fake_openai.script("contradiction_then_valid", score=75)
    client = _client(fake_openai)
    first = _take(_ask(client, _messages()))
    assert (first["score"], first["verdict"]) == (20, "ship")
    fixed = _take(_ask(client, _repair(_messages(), json.dumps(first))))
    assert (fixed["score"], fixed["verdict"]) == (75, "ship")


def test_later_scripts_win_and_times_falls_through(fake_openai):
    fake_openai.script("short_paragraph")
    fake_openai.script("abstain", times=2)
    client = _client(fake_openai)
    takes = [_take(_ask(client, _messages())) for _ in range(3)]
    assert [t["abstain"] for t in takes] == [True, True, False]
    assert takes[2]["paragraph"] == "ok"
    fake_openai.reset()
    assert fake_openai.requests == [] and fake_openai.calls() == 0
    assert _take(_ask(client, _messages()))["paragraph"] != "ok"


def test_script_rejects_unknown_behaviour(fake_openai):
    with pytest.raises(ValueError):
        fake_openai.script("valid_please")


# --------------------------------------------------------------------------- bad outputs & repair


@pytest.mark.parametrize("behaviour", ["malformed_then_valid", "score_150_then_valid"])
def test_then_valid_is_fixed_on_repair(fake_openai, behaviour):
    fake_openai.script(behaviour, persona="skeptic")
    client = _client(fake_openai)
    msgs = _messages()
    bad = _ask(client, msgs).choices[0].message.content
    if behaviour == "malformed_then_valid":
        with pytest.raises(json.JSONDecodeError):
            json.loads(bad)
    else:
        assert json.loads(bad)["score"] == 150
    fixed = _take(_ask(client, _repair(msgs, bad)))
    assert 40 <= fixed["score"] <= 95
    assert [r["repair"] for r in fake_openai.requests] == [False, True]
    assert fake_openai.calls(persona="skeptic") == 2


@pytest.mark.parametrize("behaviour", ["malformed", "score_150"])
def test_persistent_bad_output_survives_repair(fake_openai, behaviour):
    fake_openai.script(behaviour)
    client = _client(fake_openai)
    msgs = _messages()
    for m in (msgs, _repair(msgs, "x")):
        content = _ask(client, m).choices[0].message.content
        if behaviour == "malformed":
            with pytest.raises(json.JSONDecodeError):
                json.loads(content)
        else:
            assert json.loads(content)["score"] == 150


# --------------------------------------------------------------------------- HTTP-level failures


@pytest.mark.fake_openai(json_schema="400")
def test_json_schema_400_is_bad_request(fake_openai):
    client = _client(fake_openai)
    with pytest.raises(openai.BadRequestError) as info:
        _ask(client, _messages())
    assert "json_schema is not supported" in str(info.value)
    # json_object and plain still work on the same server
    assert _take(_ask(client, _messages(), response_format=JSON_OBJECT))["abstain"] is False
    rec = fake_openai.requests[0]
    assert (rec["behaviour"], rec["persona"], rec["tool"]) == ("format_rejected", "skeptic", "acme-notes")
    assert fake_openai.calls() == 2


def test_json_schema_500_and_json_object_400(make_fake_openai):
    fake = make_fake_openai(json_schema="500", json_object="400")
    client = _client(fake, max_retries=0)
    with pytest.raises(openai.InternalServerError):
        _ask(client, _messages())
    with pytest.raises(openai.BadRequestError):
        _ask(client, _messages(), response_format=JSON_OBJECT)
    assert _ask(client, _messages(), response_format=None).choices[0].message.content
    assert [r["behaviour"] for r in fake.requests] == ["format_rejected", "format_rejected", "valid"]


def test_500_behaviour(fake_openai):
    fake_openai.script("500", tool="acme-notes")
    with pytest.raises(openai.InternalServerError):
        _ask(_client(fake_openai, max_retries=0), _messages())
    assert fake_openai.calls() == 1


def test_429_then_ok_is_retried(fake_openai):
    fake_openai.script("429_then_ok")
    client = _client(fake_openai, max_retries=1)
    start = time.monotonic()
    take = _take(_ask(client, _messages()))
    assert time.monotonic() - start < 1.0  # honoured retry-after-ms: 10
    assert take["abstain"] is False
    assert fake_openai.calls() == 2
    # the counter is per (persona, tool): another persona gets its own 429 first
    with pytest.raises(openai.RateLimitError):
        _ask(_client(fake_openai, max_retries=0), _messages("builder"))
    assert fake_openai.calls(persona="builder") == 1


def test_stream_is_rejected(fake_openai):
    with pytest.raises(openai.BadRequestError):
        _ask(_client(fake_openai), _messages(), stream=True)


def test_timeout_behaviour_raises_quickly(fake_openai):
    fake_openai.script("timeout", seconds=5)
    client = _client(fake_openai, timeout=0.2, max_retries=0)
    start = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        _ask(client, _messages())
    assert time.monotonic() - start < 1.5
    start = time.monotonic()
    fake_openai.stop()  # the handler is still sleeping: stop must not wait for it
    assert time.monotonic() - start < 1.0


def test_latency_behaviour_and_server_latency(make_fake_openai):
    fake = make_fake_openai(latency=0.05)
    fake.script("latency", seconds=0.1)
    start = time.monotonic()
    _take(_ask(_client(fake), _messages()))
    assert 0.15 <= time.monotonic() - start < 2.0


def test_async_client_concurrent_panel(fake_openai):
    fake_openai.script("latency", seconds=0.2)
    personas = ["skeptic", "builder", "designer", "ops", "founder"]

    async def run() -> list[dict]:
        client = openai.AsyncOpenAI(base_url=fake_openai.base_url, api_key="test-key", max_retries=0)
        try:
            resps = await asyncio.gather(*(_aask(client, p) for p in personas))
        finally:
            await client.close()
        return [_take(r) for r in resps]

    async def _aask(client, persona):
        return await client.chat.completions.create(
            model="fake-model-1", messages=_messages(persona), response_format=TAKE_SCHEMA
        )

    start = time.monotonic()
    takes = asyncio.run(run())
    assert time.monotonic() - start < 0.9  # served concurrently, not 5 x 0.2 s
    assert [t["score"] for t in takes] == [default_score("acme-notes", p) for p in personas]
    assert sorted(r["persona"] for r in fake_openai.requests) == sorted(personas)


# --------------------------------------------------------------------------- fixtures & guard


def test_network_guard_blocks_non_loopback():
    start = time.monotonic()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        with pytest.raises(RuntimeError, match="must not touch the network: tried to connect to"):
            s.connect(("203.0.113.1", 80))
        with pytest.raises(RuntimeError, match="must not touch the network"):
            s.connect_ex(("203.0.113.1", 80))
    with pytest.raises(RuntimeError, match="must not touch the network"):
        socket.create_connection(("203.0.113.1", 80), timeout=5)
    with pytest.raises(RuntimeError, match="must not touch the network"):
        socket.getaddrinfo("api.openai.com", 443)
    assert time.monotonic() - start < 0.5
    # loopback stays allowed
    assert socket.getaddrinfo("localhost", 80)
    assert socket.getaddrinfo("127.0.0.1", 80)


def test_network_guard_stops_openai_client_reaching_out():
    client = openai.OpenAI(base_url="https://api.openai.com/v1", api_key="x", max_retries=0, timeout=2)
    start = time.monotonic()
    with pytest.raises((RuntimeError, openai.APIConnectionError)) as info:
        client.models.list()
    assert time.monotonic() - start < 1.0
    exc = info.value
    chain = []
    while exc is not None:
        chain.append(str(exc))
        exc = exc.__cause__ or exc.__context__
    assert any("must not touch the network" in c for c in chain)


def test_tp_home_and_provider_env(tp_home, provider_env, tmp_path):
    assert tp_home == tmp_path / "home"
    assert os.environ["TOOLPANEL_HOME"] == str(tp_home)
    assert os.getcwd() == str(tmp_path)
    assert "PREFECT_API_URL" not in os.environ
    assert os.environ["OPENAI_BASE_URL"] == provider_env.base_url
    assert os.environ["OPENAI_API_KEY"] == "test-key"
    assert os.environ["TOOLPANEL_MODEL"] == "fake-model-1"
    client = openai.OpenAI(max_retries=0)  # configured from env only
    assert _take(_ask(client, _messages()))["abstain"] is False
    assert provider_env.calls() == 1


@pytest.mark.parametrize("fake_openai", [{"json_object": "400", "model_id": "other-model"}], indirect=True)
def test_fake_openai_indirect_params(fake_openai):
    assert fake_openai.json_object == "400" and fake_openai.model_id == "other-model"
    assert _ask(_client(fake_openai), _messages()).model == "other-model"


def test_shared_server_is_reset(fake_openai_shared):
    assert fake_openai_shared.requests == []
    fake_openai_shared.script("abstain")
    assert _take(_ask(_client(fake_openai_shared), _messages()))["abstain"] is True
