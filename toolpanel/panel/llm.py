"""The one LLM seam: every model call goes through `LLM`, built on the official openai client.

Retries and timeouts live here and only here: the openai client's own `max_retries`/`timeout`.
Structured output degrades per endpoint: json_schema -> json_object_schema -> json_object -> plain text,
discovered once; only replies that break the take's shape demote a mode (docs/failures.md).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import openai
from openai import AsyncOpenAI

from toolpanel.models import Take
from toolpanel.panel.budget import BUDGET_EXHAUSTED
from toolpanel.sections import Price
from toolpanel.config import Settings
from toolpanel.panel.provider import profile_for
from toolpanel.text import short
from toolpanel.panel.take import (COMPACT, COMPACT_BOUNDS, CONTENT, PARAGRAPH_MAX, SCHEMA, TAKE_JSON_SCHEMA, InvalidOutput,
                               TakeOutput, grammar_schema, parse_take)

# json_object_schema: json_object plus a "schema" key, which llama.cpp-style servers turn into a grammar
# and others ignore; tried before plain json_object so small local models still produce our shape.
MODES = ("json_schema", "json_object_schema", "json_object", "text")
# Errors by which an endpoint says "I do not support that response_format".
_FORMAT_REJECTIONS = (openai.BadRequestError, openai.UnprocessableEntityError, openai.InternalServerError,
                      openai.NotFoundError)
# Takes in a row whose replies broke the take's shape in one output mode before that mode is given up
# (docs/failures.md). Content-rule failures (paragraph length, score range, quotes) and replies cut off
# by max_tokens do not count; nor is a mode given up for one that gave this endpoint fewer valid takes.
DEMOTE_AFTER = 3
LENGTH = "length"  # a reply cut off by the token limit (finish_reason "length"): neither shape nor content
# Provider failures worth another attempt (by an orchestrator's retry); anything else is final.
TRANSIENT_ERRORS = frozenset({"RateLimitError", "APITimeoutError", "APIConnectionError", "InternalServerError"})


@dataclass
class Completion:
    """Outcome of asking for one take: parsed output or the reason it failed, plus accounting."""

    output: TakeOutput | None = None
    error_class: str | None = None
    error: str | None = None
    raw: str | None = None
    mode: str | None = None
    response_model: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    latency_ms: int = 0
    repaired: bool = False
    failure_kind: str | None = None  # takeout.SCHEMA or takeout.CONTENT for invalid output
    # The content rule the first reply broke ("contradiction"), None for a schema failure or no repair.
    first_rule: str | None = None
    # Each reply that was not a take, "attempt 1, json_schema: why"; a failed take's `error` lists them all.
    attempts: list[str] = field(default_factory=list)
    kinds: list[tuple[str, str]] = field(default_factory=list)  # (mode, "ok" | SCHEMA | CONTENT | LENGTH) per reply

    def take_fields(self) -> dict:
        """What the call records on its take: the fields of the Take model (toolpanel.models.Take, their one
        definition) that a Completion shares by name, and its output mode."""
        return {"output_mode": self.mode,
                **{f: getattr(self, f) for f in Take.model_fields if f in self.__dataclass_fields__}}


def cost_usd(price: Price | None, tokens_in: int | None, tokens_out: int | None) -> float | None:
    """Cost from the price table; an unknown price or unknown usage is None, never zero."""
    if price is None or tokens_in is None or tokens_out is None:
        return None
    return round(tokens_in * price.input_per_million / 1e6 + tokens_out * price.output_per_million / 1e6, 8)


class LLM:
    """Chat-completion seam. Inject `client` in tests; otherwise built from Settings."""

    def __init__(self, settings: Settings, client: AsyncOpenAI | None = None, *, output_mode: str | None = None,
                 mode_cache: Path | None = None):
        self.settings = settings
        # HTTP requests actually sent (the client's own retries, repair calls and mode probes included),
        # counted by a hook on the HTTP client the openai client uses; an injected client is not counted.
        self.requests = 0
        # One line per output mode given up in this process (the CLI prints them; docs/failures.md).
        self.notes: list[str] = []
        self._strikes: dict[tuple[str, str], int] = {}
        self.client = client or AsyncOpenAI(
            api_key=settings.api_key or "not-needed",
            base_url=settings.base_url,
            timeout=settings.timeout,
            max_retries=settings.max_retries,
            http_client=openai.DefaultAsyncHttpxClient(event_hooks={"request": [self._count_request]}),
        )
        # Discovered output modes persist per endpoint+model, so discovery happens once, not once per process.
        self._mode_cache = mode_cache
        self._endpoint = settings.base_url or "https://api.openai.com/v1"
        self._modes: dict[str, str] = self._load_modes()
        output_mode = output_mode or settings.output_mode
        if output_mode and output_mode != "auto":
            self._forced_mode = output_mode
        else:
            self._forced_mode = None
        self._locks: dict[str, asyncio.Lock] = {}
        self._record: dict = {}  # how each mode did, when there is no mode cache (see _tally)

    def _load_modes(self) -> dict[str, str]:
        if not self._mode_cache or not self._mode_cache.is_file():
            return {}
        try:
            data = json.loads(self._mode_cache.read_text())
        except (OSError, ValueError):
            return {}
        prefix = self._endpoint + "|"
        return {k[len(prefix):]: v for k, v in data.items() if k.startswith(prefix) and v in MODES}

    def _remember(self, model: str, mode: str | None) -> None:
        if mode is None:
            self._modes.pop(model, None)
        else:
            self._modes[model] = mode
        if not self._mode_cache:
            return
        try:
            data = json.loads(self._mode_cache.read_text()) if self._mode_cache.is_file() else {}
        except (OSError, ValueError):
            data = {}
        key = f"{self._endpoint}|{model}"
        if mode is None:
            data.pop(key, None)
        else:
            data[key] = mode
        self._mode_cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._mode_cache.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        os.replace(tmp, self._mode_cache)

    async def _count_request(self, request) -> None:
        self.requests += 1

    def _tally(self, model: str, mode: str, outcome: str) -> dict:
        """Count one take's outcome in its mode for this endpoint and model, in `endpoint_modes.json` beside
        the mode cache ({"<endpoint>|<model>": {mode: {"valid": n, "shape": n, "content": n, "length": n}}});
        returns that endpoint and model's counts."""
        path = self._mode_cache.with_name("endpoint_modes.json") if self._mode_cache else None
        try:
            data = json.loads(path.read_text()) if path and path.is_file() else self._record
        except (OSError, ValueError):
            data = self._record
        counts = data.setdefault(f"{self._endpoint}|{model}", {}).setdefault(mode, {})
        counts[outcome] = counts.get(outcome, 0) + 1
        self._record = data
        if path:
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
            os.replace(tmp, path)
        return data[f"{self._endpoint}|{model}"]

    def _judge_mode(self, model: str, result: Completion) -> None:
        """Count takes whose replies all broke the shape in their mode; after DEMOTE_AFTER in a row, fall back
        one mode and remember it, so no later run pays for a mode known to fail; unless the fallback gave
        this endpoint fewer valid takes than the mode it would replace."""
        mode = result.mode
        kinds = [k for m, k in result.kinds if m == mode]
        if mode is None or not kinds:
            return  # no reply in this mode (an API failure): says nothing about the output mode
        outcome = ("valid" if result.output is not None else "content" if CONTENT in kinds
                   else "shape" if set(kinds) == {SCHEMA} else LENGTH)
        record = self._tally(model, mode, outcome)
        key = (model, mode)
        if outcome in ("valid", "content"):
            self._strikes[key] = 0
        if outcome != "shape":
            return  # a cut-off reply is the token limit's doing: handled by the repair's length guidance
        self._strikes[key] = self._strikes.get(key, 0) + 1
        if (self._strikes[key] < DEMOTE_AFTER or self._forced_mode or mode == MODES[-1]
                or self._modes.get(model) != mode):  # already demoted by a take that finished earlier
            return
        fallback = MODES[MODES.index(mode) + 1]
        valid = {m: record.get(m, {}).get("valid", 0) for m in (mode, fallback)}
        if record.get(fallback) and valid[fallback] < valid[mode]:
            self._strikes[key] = 0
            note = (f"{model} at {self._endpoint}: {DEMOTE_AFTER} takes in a row broke the {mode} shape, but "
                    f"{fallback} gave fewer valid takes here ({valid[fallback]} vs {valid[mode]}); keeping {mode}")
        else:
            self._remember(model, fallback)
            note = (f"{model} at {self._endpoint}: {DEMOTE_AFTER} takes in a row broke the {mode} shape; "
                    f"using {fallback} from now on")
        if note not in self.notes:
            self.notes.append(note)

    def mode_for(self, model: str) -> str | None:
        return self._forced_mode or self._modes.get(model)

    async def _create(self, messages: list[dict], model: str, mode: str, client: AsyncOpenAI, quotes=None, schema=None):
        profile = profile_for(self.settings)
        kwargs: dict = {
            "model": model,
            "messages": messages,
            "max_tokens": self.settings.max_tokens,
            "temperature": 0 if schema else self.settings.temperature,  # calls other than takes are extraction
        }
        name, body = schema or ("take", None)  # (name, JSON schema) of another shape than a take's (complete)
        if mode == "json_schema":
            kwargs["response_format"] = {"type": "json_schema",
                                         "json_schema": {"name": name, "strict": True, "schema": body or TAKE_JSON_SCHEMA}}
        elif mode == "json_object_schema":
            kwargs["response_format"] = {"type": "json_object", "schema": body or grammar_schema(profile, quotes)}
        elif mode == "json_object":
            kwargs["response_format"] = {"type": "json_object"}
        if profile == COMPACT:  # the local llama.cpp server's own knob, outside OpenAI's API
            kwargs["extra_body"] = {"repeat_penalty": self.settings.local.repeat_penalty}
        return await client.chat.completions.create(**kwargs)

    async def _discover(self, messages: list[dict], model: str, quotes=None, schema=None):
        """Try modes in order; the first that the endpoint accepts is remembered for this model."""
        lock = self._locks.setdefault(model, asyncio.Lock())
        async with lock:
            known = self.mode_for(model)
            if not known:
                return await self._probe(messages, model, quotes, schema)
        return await self._create(messages, model, known, self.client, quotes, schema), known

    async def _probe(self, messages: list[dict], model: str, quotes=None, schema=None):
        probe = self.client.with_options(max_retries=0)
        for mode in MODES:
            try:
                # A probe is not retried: a 500 here most likely means "unsupported format".
                resp = await self._create(messages, model, mode, probe if mode != "text" else self.client, quotes, schema)
            except _FORMAT_REJECTIONS:
                if mode == "text":
                    raise
                continue
            except (openai.RateLimitError, openai.APIConnectionError):
                resp = await self._create(messages, model, mode, self.client, quotes, schema)
            self._remember(model, mode)
            return resp, mode
        raise AssertionError("unreachable")

    async def _call(self, messages: list[dict], model: str, quotes=None, schema=None):
        mode = self.mode_for(model)
        if mode is None:
            return await self._discover(messages, model, quotes, schema)
        try:
            return await self._create(messages, model, mode, self.client, quotes, schema), mode
        except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
            # A remembered mode the endpoint now rejects (server changed): forget it and discover again.
            if mode == "text" or self._forced_mode or "response_format" not in str(exc):
                raise
            self._remember(model, None)
            return await self._discover(messages, model, quotes, schema)

    async def complete(self, messages: list[dict], model: str, name: str, schema: dict):
        """One reply of another JSON shape (the model screen): the takes' modes, client, retries and count."""
        return (await self._call(messages, model, schema=(name, schema)))[0]

    async def take(self, messages: list[dict], model: str, repair_message, may_repair=None,
                   quotes: list[str] | None = None) -> Completion:
        """Ask for a take; one repair call on invalid output; API failures become a failed Completion.

        `may_repair(messages)` (the budget, toolpanel.panel.budget) is awaited before the repair call; False
        leaves the take failed with error class `budget_exhausted` instead of sending it. `quotes` (the
        card's sentences) bound what a grammar-constrained reply may quote (takeout.grammar_schema)."""
        result = Completion()
        started = time.perf_counter()
        convo = list(messages)
        mode = None
        try:
            for attempt in (1, 2):
                resp, mode = await self._call(convo, model, quotes)
                result.mode = mode
                result.response_model = getattr(resp, "model", None)
                if resp.usage is not None:
                    result.tokens_in = (result.tokens_in or 0) + (resp.usage.prompt_tokens or 0)
                    result.tokens_out = (result.tokens_out or 0) + (resp.usage.completion_tokens or 0)
                choice = resp.choices[0] if resp.choices else None
                content = result.raw = choice.message.content if choice else None
                try:
                    result.output = parse_take(content or "")
                    result.error_class = result.error = result.failure_kind = None
                    result.repaired = attempt == 2
                    result.kinds.append((mode, "ok"))
                    break
                except InvalidOutput as exc:
                    cut = getattr(choice, "finish_reason", None) == "length"
                    why = self._cut_off(exc) if cut else str(exc)
                    result.kinds.append((mode, LENGTH if cut else exc.kind))
                    result.attempts.append(f"attempt {attempt}{' (repair)' if attempt == 2 else ''}, {mode}: "
                                           + short(why, 300))
                    result.error_class, result.failure_kind = "invalid_output", LENGTH if cut else exc.kind
                    result.error = " · ".join(result.attempts)
                    if attempt == 1:
                        result.first_rule = exc.rule
                        convo = convo + [{"role": "assistant", "content": content or ""}, repair_message(why)]
                        if may_repair is not None and not await may_repair(convo):
                            result.error_class = BUDGET_EXHAUSTED
                            result.error += " · repair call not sent: the budget is reached"
                            break
        except (openai.APIStatusError, openai.APIError) as exc:  # APIError: timeouts, connection errors
            result.error_class = exc.__class__.__name__
            why = (f"HTTP {exc.status_code}: {short(exc.message, 300)}" if isinstance(exc, openai.APIStatusError)
                   else short(str(exc), 300))
            # after a reply that was not a take, the repair call's failure is listed after it
            result.error = " · ".join(result.attempts + [f"attempt 2 (repair), {mode}: {why}"]) if result.attempts else why
        result.latency_ms = round((time.perf_counter() - started) * 1000)
        self._judge_mode(model, result)
        return result

    def _cut_off(self, exc: InvalidOutput) -> str:
        """What the repair says about a reply cut off by max_tokens: the limit, and a shorter paragraph that
        fits it (half the profile's bound, at most two characters per token). max_tokens is not raised: the
        budget (toolpanel.panel.budget) holds every call at prompt + max_tokens."""
        bound = COMPACT_BOUNDS["paragraph_max"] if profile_for(self.settings) == COMPACT else PARAGRAPH_MAX
        shorter = min(bound // 2, self.settings.max_tokens * 2)
        return (f"the reply was cut off at the token limit (max_tokens {self.settings.max_tokens}) before it was "
                f"complete ({exc}); write a shorter paragraph, at most {shorter} characters, and short quotes, and "
                "close the JSON object")

    async def aclose(self) -> None:
        await self.client.close()
