"""The review's second round (`[panel] rounds = 2`, issue 27), as a part of toolpanel.panel.review.Panel: who is
asked (toolpanel.panel.rounds decides, purely), round-two takes from the cache when they saw the same round-one
takes, the rest asked through the panel's one `_take` (so each call meets the [budget] caps) and stored as they
land. Round two is not claimed (take_claims): two processes reviewing one tool at the same moment may both pay
for it; round one, which decides what round two shows, is claimed as always.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from scoring.rules import panel_verdict
from toolpanel.models import CarriedTake, ReviewRequest, Take, Tool
from toolpanel.panel import rounds
from warehouse.store import TakeInsert


class SecondRound:
    """Panel's round-two methods (they use its store, commit, personas and `_take`)."""

    def _plan(self, tool: Tool, first: list[Take],
              carried: list[tuple[Take, CarriedTake]]) -> dict[str, rounds.Followup]:
        """Who round two asks, and what each one sees (none with `rounds = 1` or without a round-one quorum)."""
        if self.rounds < 2 or not panel_verdict(tool.slug, first, [], carried).quorum_met:
            return {}
        return rounds.plan(first, [*first, *(t for t, _ in carried)])

    async def _cached_second(self, plan: dict[str, rounds.Followup], request: ReviewRequest) -> dict[str, Take]:
        """Round-two takes already paid for that saw exactly the same round-one takes (none when forced)."""
        if request.force or not plan:
            return {}
        keys = {pid: (f.own.snapshot_hash, f.own.persona_version, self.round_two_hash, f.own.model)
                for pid, f in plan.items()}
        found = await self.commit.run(lambda con: self.store.cached_second_round(
            {keys[pid]: f.seen_take_ids for pid, f in plan.items()}, con))
        return {pid: found[k] for pid, k in keys.items() if k in found}

    async def _second_round(self, tool: Tool, plan: dict[str, rounds.Followup], shared: list[dict], run_id: str,
                            request: ReviewRequest, on_take: Callable | None) -> tuple[dict[str, Take], list[Take]]:
        """Round two of a run: cached takes linked, the rest asked (each call admitted by the budget) and
        stored as they land. Returns (persona id -> round-two take, the cached ones)."""
        cached = await self._cached_second(plan, request)
        if cached:
            await self.commit.run(lambda con: self.store.link_cached(run_id, cached.values(), con))
        by_id = {p.id: p for p in self.personas}

        async def ask(f: rounds.Followup) -> Take:
            take = await self._take(tool, by_id[f.persona_id], shared, f.own.model,
                                    exceed_daily=request.exceed_daily_budget, followup=f)
            await self.commit.run(TakeInsert(self.store, [(run_id, take)]))
            if on_take:
                on_take(take)
            return take

        fresh = await asyncio.gather(*(ask(f) for pid, f in plan.items() if pid not in cached))
        return {**cached, **{t.persona_id: t for t in fresh}}, list(cached.values())

    def _hash(self, followup: rounds.Followup | None) -> str:
        return self.prompt_hash if followup is None else self.round_two_hash

    @staticmethod
    def _round_fields(followup: rounds.Followup | None) -> dict:
        return {} if followup is None else {"round": 2, "seen_take_ids": followup.seen_take_ids}

    async def unstored_round_two(self, tool: Tool, first: list[Take], shared: list[dict]) -> dict[str, Take]:
        """Round two without the warehouse (evaluation runs): persona id -> its fresh round-two take."""
        plan = self._plan(tool, first, [])
        by_id = {p.id: p for p in self.personas}
        fresh = await asyncio.gather(*(self._take(tool, by_id[pid], shared, f.own.model, followup=f)
                                       for pid, f in plan.items()))
        return {t.persona_id: t for t in fresh}
