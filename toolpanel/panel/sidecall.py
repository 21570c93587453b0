"""A side call: one paid model call outside the take contract (the chair's summaries, the model screen).

Owns what every such call shares: the panel's budget (estimate, admit, settle), its cap on calls in flight,
the one LLM seam (`LLM.complete`, so retries, timeouts, output modes and the request count apply), usage and
cost, and one wording for a provider's failure. The caller owns its prompt, its reply's reading and what a
failure means (a failed summary, a screen that falls back to the rules).
May import: openai, toolpanel (models, text, panel.llm).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import openai

from toolpanel.models import Reviewer, ReviewRequest
from toolpanel.panel.llm import cost_usd
from toolpanel.text import short


@dataclass
class SideCall:
    """What one side call gave: the read value, or why there is none (`stopped`: never sent; `error`: sent)."""

    value: Any = None
    stopped: str | None = None  # the budget's refusal; nothing was sent or paid
    error: str | None = None  # the provider's failure or the reader's refusal, one line
    raw: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost_usd: float | None = None


async def side_call(panel: Reviewer, request: ReviewRequest, messages: list[dict], model: str, name: str,
                    schema: dict, read: Callable[[str | None, str | None], Any],
                    refusals: dict[type[Exception], str]) -> SideCall:
    """One budgeted call; `read(content, finish_reason)` turns the reply into the value or raises one of
    `refusals` (exception class -> the error's prefix, e.g. {Rejected: "rejected"})."""
    hold = panel.spend.estimate(messages, model)
    stop = await panel.spend.admit([hold], request.exceed_daily_budget)
    if stop:
        return SideCall(stopped=stop)
    out, resp = SideCall(), None
    try:
        async with panel._semaphore:  # the panel's cap on model calls in flight
            resp = await panel.llm.complete(messages, model, name, schema)
        if resp.usage is not None:
            out.tokens_in, out.tokens_out = resp.usage.prompt_tokens, resp.usage.completion_tokens
        choice = resp.choices[0] if resp.choices else None
        out.raw = choice.message.content if choice else None
        out.value = read(out.raw, getattr(choice, "finish_reason", None))
    except openai.APIStatusError as exc:
        said = exc.body.get("message") if isinstance(exc.body, dict) else None
        out.error = f"{exc.__class__.__name__}: HTTP {exc.status_code}: {short(said or exc.message)}"
    except openai.APIError as exc:  # timeouts, connection errors
        out.error = f"{exc.__class__.__name__}: {short(str(exc))}"
    except tuple(refusals) as exc:
        prefix = next(p for cls, p in refusals.items() if isinstance(exc, cls))
        out.error = f"{prefix}: {exc}"
    finally:
        await panel.spend.settle(hold, out.tokens_in, out.tokens_out, replied=resp is not None)
    out.cost_usd = cost_usd(panel.settings.prices.get(model), out.tokens_in, out.tokens_out)
    return out
