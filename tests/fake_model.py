"""An in-process fake model for the LLM seam: `LLM(settings, client=FakeModel())`.

It stands in for the openai client's `chat.completions.create`, so everything above it (output modes,
repair, parsing, the panel, the warehouse) is the real code; no socket, no thread. Like simonw/llm's
MockModel it answers from per-persona queues and records every request body; like pydantic-ai's
FunctionModel a function can answer instead. The default reply is a valid take, the same one the HTTP
fake (tests/fake_openai.py) gives, so tests can move between the two without new expectations.

    fake = FakeModel()
    fake.enqueue("founder", MALFORMED, MALFORMED)     # the founder's next two requests, then the default
    fake.enqueue("skeptic", take(score=40, verdict="skip"))
    ...
    assert fake.calls(persona="founder") == 2
    assert fake.requests[0].body["response_format"]["type"] == "json_schema"

A reply is a str (the message content verbatim), a dict (sent as JSON) or an exception (raised, e.g.
`status_error(500)`); a callable `reply(request) -> reply` may compute it.
"""

from __future__ import annotations

import copy
import json
import math
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import openai
from openai.types.chat import ChatCompletion

from tests.fake_openai import (chair_persona, DESCRIPTION_RE, MALFORMED_CONTENT, PERSONA_RE, REPAIR_MARKER, ROUND_TWO_MARKER, TOOL_RE,
                               FakeOpenAI, _message_text, default_paragraph, default_score, round_two_position)

__all__ = ["FakeModel", "Request", "take", "herd", "ignore", "status_error", "MALFORMED"]

MALFORMED = MALFORMED_CONTENT


@dataclass
class Request:
    """One chat.completions.create call: the exact body the seam sent, and who it was for."""

    body: dict
    persona: str | None
    tool: str | None
    repair: bool
    quote: str  # the card's first words, what a grounded take quotes
    prompt: str = ""  # every message's text, joined

    @property
    def round(self) -> int:
        """2 for a round-two request ([panel] rounds = 2), else 1."""
        return 2 if ROUND_TWO_MARKER in self.prompt else 1

    @property
    def mode(self) -> str:
        rf = self.body.get("response_format")
        if rf is None:
            return "text"
        return "json_object_schema" if rf["type"] == "json_object" and "schema" in rf else rf["type"]


def take(score: int | None = None, verdict: str | None = None, **fields) -> Callable[[Request], dict]:
    """A valid take for the request's persona and tool (default score as in the HTTP fake), with overrides.
    `take(abstain=True)` abstains; any other field (paragraph, evidence) replaces the default."""

    def build(req: Request) -> dict:
        if fields.get("abstain"):
            return {"abstain": True, "score": None, "verdict": None,
                    "paragraph": fields.get("paragraph", f"Outside my lens: {req.tool} is not something I can judge fairly.")}
        s = default_score(req.tool, req.persona) if score is None else score
        body = {"abstain": False, "score": s, "verdict": verdict or ("ship" if s >= 60 else "skip"),
                "evidence": [req.quote], "paragraph": default_paragraph(req.tool, req.persona, s)}
        return {**body, **fields}

    return build


def herd(**round_one) -> Callable[[Request], dict]:
    """A reviewer that herds: round one as `take(**round_one)`; round two moves to the round-one majority it
    is shown (that side, at the side's mean score)."""
    return _round_two("herd", round_one)


def ignore(**round_one) -> Callable[[Request], dict]:
    """A reviewer that ignores the others: round two repeats its round-one take."""
    return _round_two("ignore", round_one)


def _round_two(kind: str, round_one: dict) -> Callable[[Request], dict]:
    def build(req: Request) -> dict:
        moved = round_two_position(req.prompt, kind)
        return take(*moved)(req) if moved else take(**round_one)(req)

    return build


def status_error(status: int, message: str = "scripted failure") -> openai.APIStatusError:
    """The exception the openai client raises for an HTTP `status` reply (400, 429, 500, ...)."""
    request = httpx.Request("POST", "http://fake-model.invalid/v1/chat/completions")
    response = httpx.Response(status, request=request, json={"error": {"message": message}})
    cls = {400: openai.BadRequestError, 404: openai.NotFoundError, 422: openai.UnprocessableEntityError,
           429: openai.RateLimitError}.get(status, openai.InternalServerError)
    return cls(message, response=response, body={"error": {"message": message}})


class FakeModel:
    """In-process stand-in for `AsyncOpenAI` at the LLM seam (only what `toolpanel.panel.llm` uses)."""

    def __init__(self, reply: Callable[[Request], Any] | None = None, *, model_id: str = "fake-model-1",
                 reject_modes: tuple[str, ...] = ()):
        self.reply = reply or take()
        self.model_id = model_id
        # Output modes answered with 400 "response_format ... not supported" (mode discovery, no HTTP needed).
        self.reject_modes = set(reject_modes)
        self.requests: list[Request] = []
        self._queues: dict[str | None, deque] = defaultdict(deque)
        self.chat = self
        self.completions = self
        self.closed = False

    # -- scripting and inspection
    def enqueue(self, persona: str | None, *replies) -> FakeModel:
        """Replies for `persona`'s next requests, in order (None: any persona's); then `reply` again."""
        self._queues[persona].extend(replies)
        return self

    def calls(self, persona: str | None = None, tool: str | None = None) -> int:
        return len(self.of(persona, tool))

    def of(self, persona: str | None = None, tool: str | None = None) -> list[Request]:
        return [r for r in self.requests if persona in (None, r.persona) and tool in (None, r.tool)]

    # -- the client surface toolpanel.panel.llm uses
    def with_options(self, **_: Any) -> FakeModel:
        return self

    async def close(self) -> None:
        self.closed = True

    async def create(self, **body: Any) -> ChatCompletion:
        texts = [_message_text(m) for m in body["messages"]]
        joined = "\n".join(texts)
        pm, tm, dm = PERSONA_RE.search(joined), TOOL_RE.search(joined), DESCRIPTION_RE.search(joined)
        tool = tm.group(1) if tm else None
        persona = pm.group(1) if pm else chair_persona(joined)
        req = Request(body=copy.deepcopy(body), persona=persona, tool=tool,
                      repair=REPAIR_MARKER in texts[-1], prompt=joined,
                      quote=" ".join(dm.group(1).replace("\u02c6", " ").split()[:8]) if dm else f"{tool or 'this tool'} does one thing")
        self.requests.append(req)
        if req.mode in self.reject_modes:
            raise status_error(400, f"response_format {req.mode} is not supported")
        # The chair (persona "chair", or "pair" for a comparison) answers from its own queue, else honestly
        # (FakeOpenAI.chair_reply).
        chairs = ("chair", "pair")
        queue = self._queues.get(req.persona) or (self._queues.get(None) if req.persona not in chairs else None)
        default = (lambda r: FakeOpenAI.chair_reply(r.persona, r.prompt)) if req.persona in chairs else self.reply
        answer = queue.popleft() if queue else default
        while callable(answer) and not isinstance(answer, type):
            answer = answer(req)
        if isinstance(answer, BaseException) or (isinstance(answer, type) and issubclass(answer, BaseException)):
            raise answer
        if isinstance(answer, dict):  # plain-text mode gets fenced JSON, as a chatty model writes it
            answer = FakeOpenAI._render(answer, req.persona, req.tool, req.mode == "text")
        prompt, completion = math.ceil(sum(map(len, texts)) / 4), math.ceil(len(answer) / 4)
        return ChatCompletion.model_validate({
            "id": f"chatcmpl-inproc{len(self.requests):06d}", "object": "chat.completion", "created": 0,
            "model": self.model_id,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": answer}}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
        })
