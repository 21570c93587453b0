"""The review stage: one tool, its personas, the warehouse as cache. Used by the CLI and the flows."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from scoring import verdict as score_verdict
from toolpanel import prompts
from toolpanel.config import Settings
from toolpanel.flags import Flag
from toolpanel.llm import LLM, cost_usd
from toolpanel.models import Persona, Take, Tool, Verdict
from toolpanel.takeout import unsupported_quotes
from warehouse import Warehouse
from warehouse.store import GroupCommit, TakeInsert, new_id, now


@dataclass
class ReviewResult:
    tool: Tool
    takes: list[Take]
    verdict: Verdict
    run_id: str | None  # None when nothing changed and nothing was paid for
    paid_calls: int = 0
    cached_takes: int = 0
    new_snapshot: bool = False

    @property
    def tokens(self) -> int:
        return sum((t.tokens_in or 0) + (t.tokens_out or 0) for t in self.takes if t.take_id in self.paid_ids)

    @property
    def cost(self) -> float | None:
        costs = [t.cost_usd for t in self.takes if t.take_id in self.paid_ids]
        return None if any(c is None for c in costs) else round(sum(costs), 6)

    paid_ids: set[str] = field(default_factory=set)


# Provider failures worth another attempt (by an orchestrator's retry); anything else is final.
TRANSIENT_ERRORS = frozenset({"RateLimitError", "APITimeoutError", "APIConnectionError", "InternalServerError"})


class TransientFailure(Exception):
    """Some takes failed transiently; the run was closed as 'retrying' without a verdict."""

    def __init__(self, result: "ReviewResult", failed: list[Take]):
        names = ", ".join(f"{t.persona_id} ({t.error_class})" for t in failed)
        super().__init__(f"{result.tool.slug}: transient provider failure for {names}; retrying pays only for these")
        self.result, self.failed = result, failed


@dataclass
class ReviewRequest:
    """What a caller (CLI, daily flow, editor flow) asks of a review."""

    trigger: str = "cli"
    reason: str | None = None
    force: bool = False
    flow_run_id: str | None = None
    model_override: str | None = None
    personas: list[str] | None = None  # subset of persona ids; None = the whole panel
    # Orchestrated runs set this on every attempt but the last: transient failures then close the run
    # as "retrying" (no verdict) and raise, and the retry pays only for the failed personas.
    defer_transient: bool = False


class Panel:
    """Reviews tools with a persona panel through one LLM seam, storing every take as it lands."""

    def __init__(self, settings: Settings, llm: LLM, store: Warehouse, personas: list[Persona],
                 concurrency: int | None = None):
        self.settings = settings
        self.llm = llm
        self.store = store
        self.personas = personas
        self.prompt_hash = prompts.prompt_hash(settings.prompts_dir)
        # Every model call holds a slot of this in-process cap; the flows size it to the provider
        # slots they hold on the Prefect global concurrency limit.
        self.concurrency = concurrency or settings.concurrency
        self._semaphore = asyncio.Semaphore(self.concurrency)
        self.commit = GroupCommit(store)  # concurrent reviews share short transactions
        self._abandoned_closed = False

    def model_for(self, persona: Persona, request: ReviewRequest) -> str:
        return request.model_override or self.settings.model_for(persona.id)

    async def review(self, tool: Tool, request: ReviewRequest | None = None,
                     on_take: Callable[[Take], None] | None = None) -> ReviewResult:
        request = request or ReviewRequest()
        personas = self.personas if not request.personas else [p for p in self.personas if p.id in request.personas]
        first, self._abandoned_closed = not self._abandoned_closed, True
        models = {p.id: self.model_for(p, request) for p in personas}
        keys = {p.id: (tool.snapshot_hash, p.version, self.prompt_hash, models[p.id]) for p in personas}
        _, new_snapshot, cached = await self.commit.run(lambda con: (
            first and self.store.close_abandoned(con),  # once per batch, inside the first transaction
            self.store.record_tool(tool, con),
            {} if request.force else self.store.cached_takes(list(keys.values()), con)))
        hits = {pid: cached[k] for pid, k in keys.items() if k in cached}

        if len(hits) == len(personas):
            takes = [hits[p.id] for p in personas]
            verdict = score_verdict(tool.slug, takes)
            already = await self.commit.run(
                lambda con: self.store.verdict_with_takes(tool.slug, [t.take_id for t in takes], con))
            if already or not verdict.quorum_met:
                return ReviewResult(tool, takes, verdict, run_id=None, cached_takes=len(takes),
                                    new_snapshot=new_snapshot)

        def begin(con) -> str:
            rid = self.store.start_run(
                tool=tool, trigger=request.trigger, reason=request.reason, forced=request.force,
                prompt_hash=self.prompt_hash, persona_versions={p.id: p.version for p in personas},
                models=models, flow_run_id=request.flow_run_id, con=con,
                settings={"timeout": self.settings.timeout, "max_retries": self.settings.max_retries,
                          "temperature": self.settings.temperature, "max_tokens": self.settings.max_tokens,
                          "base_url": self.settings.base_url or ("local" if self.settings.uses_local_model else None)})
            if hits:
                self.store.link_cached(rid, hits.values(), con)
            return rid

        run_id = await self.commit.run(begin)

        marker = prompts.new_marker()
        shared = prompts.shared_messages(self.settings.prompts_dir, tool, marker, self.personas)
        missing = [p for p in personas if p.id not in hits]

        async def one(persona: Persona) -> Take:
            take = await self._take(tool, persona, shared, models[persona.id])
            await self.commit.run(TakeInsert(self.store, [(run_id, take)]))
            if on_take:
                on_take(take)
            return take

        fresh = await asyncio.gather(*(one(p) for p in missing))
        by_id = {**hits, **{t.persona_id: t for t in fresh}}
        takes = [by_id[p.id] for p in personas]
        verdict = score_verdict(tool.slug, takes)
        result = ReviewResult(tool, takes, verdict, run_id=run_id, paid_calls=len(fresh), cached_takes=len(hits),
                              new_snapshot=new_snapshot, paid_ids={t.take_id for t in fresh})
        transient = [t for t in fresh if t.status == "failed" and t.error_class in TRANSIENT_ERRORS]
        if transient and request.defer_transient:
            await self.commit.run(lambda con: self.store.finish_run(
                run_id, tool.snapshot_hash, verdict, len(fresh), len(hits), "retrying", con))
            raise TransientFailure(result, transient)
        await self.commit.run(lambda con: self.store.finish_run(
            run_id, tool.snapshot_hash, verdict, len(fresh), len(hits), con=con))
        return result

    async def _take(self, tool: Tool, persona: Persona, shared: list[dict], model: str) -> Take:
        messages = shared + [prompts.persona_message(self.settings.prompts_dir, persona)]
        async with self._semaphore:
            c = await self.llm.take(messages, model,
                                    lambda err: prompts.repair_message(self.settings.prompts_dir, err))
        out = c.output
        status = "failed" if out is None else "abstained" if out.abstain else "ok"
        flags: list[str] = []
        if c.repaired:
            flags.append(Flag.CONTRADICTION_REPAIRED if c.first_rule == "contradiction" else Flag.REPAIRED)
        evidence = list(out.evidence) if status == "ok" else []
        if evidence and unsupported_quotes(evidence, card_text(tool)):
            flags.append(Flag.UNGROUNDED)
        position = status == "ok"
        return Take(
            take_id=new_id("tk"), tool_slug=tool.slug, snapshot_hash=tool.snapshot_hash, persona_id=persona.id,
            persona_version=persona.version, model=model, prompt_hash=self.prompt_hash, status=status,
            score=out.score if position else None, verdict=out.verdict if position else None,
            paragraph=out.paragraph.strip() if out else None, evidence=evidence, flags=[str(f) for f in flags],
            response_model=c.response_model, output_mode=c.mode, tokens_in=c.tokens_in, tokens_out=c.tokens_out,
            latency_ms=c.latency_ms, cost_usd=cost_usd(self.settings.prices.get(model), c.tokens_in, c.tokens_out),
            error_class=c.error_class if out is None else None, error=c.error if out is None else None,
            created_at=now())


_CARD_LABELS = {"name": "Name", "tagline": "Best for", "category": "Category", "pricing": "Pricing",
                "entry": "Entry price", "launched": "Launched", "url": "URL", "description": "Description"}


def card_text(tool: Tool) -> str:
    """The snapshot text the panel read (as prompts/tool.j2 labels it), against which quotes are checked."""
    content = tool.reviewed_content()
    return "\n".join(f"{label}: {content[k]}" for k, label in _CARD_LABELS.items() if content.get(k))


async def review_batch(panel: Panel, tools: list[Tool], request: ReviewRequest | None = None,
                       on_done: Callable[[ReviewResult | BaseException, Tool], None] | None = None
                       ) -> list[ReviewResult | BaseException]:
    """Review many tools concurrently (the panel's limiter bounds LLM calls); one failure never stops the rest.

    With one call at a time (the bundled local model) tools go one after another, so a tool's five
    persona calls run back to back and the server's prompt cache reuses their shared prefix."""
    gate = asyncio.Semaphore(1 if panel.concurrency == 1 else max(1, len(tools)))

    async def one(tool: Tool):
        try:
            async with gate:
                res = await panel.review(tool, request)
        except Exception as exc:  # recorded per tool; the batch goes on
            res = exc
        if on_done:
            on_done(res, tool)
        return res

    return list(await asyncio.gather(*(one(t) for t in tools)))
