"""The spending guard: [budget] caps per run and per UTC day, checked before every paid model call.

One `Spend` per batch (a Panel owns it). A tool's review is admitted only if all its missing takes fit
(each estimated as prompt tokens + max_tokens of output) on top of what is spent and reserved; the
estimate is reserved, and replaced by the provider's reported usage when the take lands. A repair
call is reserved the same way before it is sent. Today's spend by others comes from the warehouse's
`spend` view (docs/budget.md).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from dataclasses import dataclass

from toolpanel.sections import Budget, Price

BUDGET_EXHAUSTED = "budget_exhausted"  # error class of a take whose repair call the budget refused
CHARS_PER_TOKEN = 4.0  # prompt estimate before the provider has reported any usage


class BudgetStopped(Exception):
    """Internal signal (reported as exit 5 by the summary): a tool's review was not started, or closed without a verdict, because a cap was reached.

    The tool has no new verdict, so intake keeps it pending for the next run. `result` holds the
    takes paid for before the stop (a review stopped half-way), else None."""

    def __init__(self, slug: str, reason: str, result=None):
        super().__init__(f"{slug}: not reviewed: {reason}; left pending for the next run")
        self.slug, self.reason, self.result = slug, reason, result


@dataclass
class Hold:
    """What one take has reserved: its estimate (plus a repair's, if one was allowed)."""

    model: str
    cost: float
    tokens: int
    prompt_chars: int


def prompt_chars(messages: list[dict]) -> int:
    return sum(len(m.get("content") or "") for m in messages)


class Spend:
    """Per-run and per-day spend of one batch: settled (actual) + reserved (in flight) + others' today."""

    def __init__(self, budget: Budget, prices: dict[str, Price], max_tokens: int):
        self.budget, self.prices, self.max_tokens = budget, prices, max_tokens
        self.run_cost = 0.0  # settled: actual usage of takes that landed
        self.run_tokens = 0
        self.reserved_cost = 0.0
        self.reserved_tokens = 0
        self.in_flight = 0
        self.day_cost = 0.0  # today's spend in the warehouse, this batch's own runs left out
        self.day_tokens = 0
        self.run_ids: set[str] = set()  # runs this batch started (their takes are counted as they land)
        self.stopped: str | None = None  # the cap that stopped the run; no further tool is admitted
        self.notes: list[str] = []
        self._tokens_per_char = 1 / CHARS_PER_TOKEN
        self._unpriced: set[str] = set()
        self._cond: asyncio.Condition | None = None

    # -- reading the warehouse -----------------------------------------------------------------
    def refresh(self, con) -> None:
        """Today's spend (UTC) by everyone else: other processes, earlier runs, eval. Only with a daily cap."""
        if not self.budget.daily:
            return
        midnight = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
        cost, tokens = con.execute(
            "SELECT coalesce(sum(cost_usd), 0), coalesce(sum(coalesce(tokens_in, 0) + coalesce(tokens_out, 0)), 0) "
            "FROM spend WHERE created_at >= ? AND NOT list_contains(?::VARCHAR[], run_id)",
            [midnight, sorted(self.run_ids)]).fetchone()
        self.day_cost, self.day_tokens = float(cost), int(tokens)

    # -- estimates -------------------------------------------------------------------------------
    def _price(self, model: str, tokens_in: int, tokens_out: int) -> float:
        price = self.prices.get(model)
        if price is None:
            if (self.budget.per_run_usd is not None or self.budget.per_day_usd is not None) \
                    and model not in self._unpriced:
                self._unpriced.add(model)
                self.notes.append(f"budget: {model} has no price in [prices], so per_run_usd/per_day_usd cannot "
                                  "limit it; per_run_tokens/per_day_tokens can (docs/budget.md)")
            return 0.0
        return tokens_in * price.input_per_million / 1e6 + tokens_out * price.output_per_million / 1e6

    def estimate(self, messages: list[dict], model: str) -> Hold:
        """One call: prompt tokens from its characters (the ratio the provider last reported, at least
        1 token per 4 characters) plus max_tokens of output, the most the provider may return."""
        chars = prompt_chars(messages)
        tokens_in = math.ceil(chars * self._tokens_per_char)
        return Hold(model, self._price(model, tokens_in, self.max_tokens), tokens_in + self.max_tokens, chars)

    # -- the checks ----------------------------------------------------------------------------
    def _over(self, cost: float, tokens: int, exceed_daily: bool) -> str | None:
        """The cap this much more would pass, or None."""
        b = self.budget
        run_cost, run_tokens = self.run_cost + self.reserved_cost + cost, self.run_tokens + self.reserved_tokens + tokens
        if b.per_run_usd is not None and run_cost > b.per_run_usd + 1e-12:
            return f"per_run_usd = {b.per_run_usd:g} reached (${self.run_cost:.4f} spent this run)"
        if b.per_run_tokens is not None and run_tokens > b.per_run_tokens:
            return f"per_run_tokens = {b.per_run_tokens} reached ({self.run_tokens} tokens spent this run)"
        if exceed_daily:
            return None
        if b.per_day_usd is not None and self.day_cost + run_cost > b.per_day_usd + 1e-12:
            return (f"per_day_usd = {b.per_day_usd:g} reached (${self.day_cost + self.run_cost:.4f} spent today, "
                    "UTC)")
        if b.per_day_tokens is not None and self.day_tokens + run_tokens > b.per_day_tokens:
            return f"per_day_tokens = {b.per_day_tokens} reached ({self.day_tokens + self.run_tokens} tokens today, UTC)"
        return None

    def _condition(self) -> asyncio.Condition:
        self._cond = self._cond or asyncio.Condition()
        return self._cond

    async def admit(self, holds: list[Hold], exceed_daily: bool = False) -> str | None:
        """Reserve all of a tool's calls, or none: None when admitted, else the cap that stops the run.

        While other calls of this batch are in flight a tool that does not fit waits for them to land
        (their estimates are usually far above what they cost); it is refused only when nothing is in
        flight, and from then on the run admits no tool that needs a paid call."""
        if not holds or not self.budget.any:
            return None
        cost, tokens = sum(h.cost for h in holds), sum(h.tokens for h in holds)
        cond = self._condition()
        async with cond:
            while True:
                if self.stopped:
                    return self.stopped
                reason = self._over(cost, tokens, exceed_daily)
                if reason is None:
                    self.reserved_cost += cost
                    self.reserved_tokens += tokens
                    self.in_flight += len(holds)
                    return None
                if not self.in_flight:
                    self.stopped = reason
                    return reason
                await cond.wait()

    async def extend(self, hold: Hold, messages: list[dict], exceed_daily: bool = False) -> bool:
        """Reserve one more call (a repair) for a take in flight; False if it would pass a cap."""
        if not self.budget.any:
            return True
        more = self.estimate(messages, hold.model)
        async with self._condition():
            if self._over(more.cost, more.tokens, exceed_daily):
                return False
            hold.cost += more.cost
            hold.tokens += more.tokens
            self.reserved_cost += more.cost
            self.reserved_tokens += more.tokens
            return True

    async def settle(self, hold: Hold, tokens_in: int | None, tokens_out: int | None, replied: bool,
                     calls: int = 1) -> None:
        """Replace a take's reservation by what it cost. No usage reported but a reply came: the estimate
        stays spent. No reply (HTTP error, timeout): nothing was billed."""
        if not self.budget.any:
            return
        if tokens_in is None or tokens_out is None:
            cost, tokens = (hold.cost, hold.tokens) if replied else (0.0, 0)
        else:
            cost, tokens = self._price(hold.model, tokens_in, tokens_out), tokens_in + tokens_out
            if calls == 1 and hold.prompt_chars:  # learn the provider's tokens per character (never below 1/4)
                self._tokens_per_char = max(self._tokens_per_char, tokens_in / hold.prompt_chars)
        async with self._condition() as _:
            self.reserved_cost -= hold.cost
            self.reserved_tokens -= hold.tokens
            self.in_flight -= 1
            self.run_cost += cost
            self.run_tokens += tokens
            self._condition().notify_all()
