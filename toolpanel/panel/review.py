"""The review stage: one tool, its personas, the warehouse as cache. Used by the CLI and the flows."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

from scoring.rules import panel_verdict
from scoring.injection import ScoreHistory
from toolpanel.screening import differential as injection
from toolpanel.panel import prompts, rounds
from toolpanel.panel.budget import BUDGET_EXHAUSTED, BudgetStopped, Hold, Spend
from toolpanel.config import Settings
from toolpanel.flags import Flag
from toolpanel.panel.llm import LLM, TRANSIENT_ERRORS, cost_usd
from toolpanel.panel.provider import endpoint_identity, profile_for
from toolpanel.models import CarriedTake, Persona, Take, Tool, Verdict, ReviewRequest
from toolpanel.summaries import SummaryRecord
from toolpanel.panel import chair
from toolpanel.panel.take import COMPACT, compact_quotes
from toolpanel.panel.patterns import unsupported_quotes
from toolpanel.panel.second_round import SecondRound
from warehouse.store import Warehouse
from warehouse.changes import record_run_inputs, template_records
from warehouse.store import FinishRun, GroupCommit, Look, TakeInsert
from warehouse.rows import new_id, now


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
    def every_take(self) -> list[Take]:
        """The verdict's takes, then the round-one takes round two replaced (`[panel] rounds = 2`)."""
        counted = {t.take_id for t in self.takes}
        return self.takes + [t for t in self.round_one if t.take_id not in counted]

    @property
    def tokens(self) -> int:
        return sum((t.tokens_in or 0) + (t.tokens_out or 0) for t in self.every_take if t.take_id in self.paid_ids)

    @property
    def cost(self) -> float | None:
        costs = [t.cost_usd for t in self.every_take if t.take_id in self.paid_ids]
        if self.summary is not None and self.summary.tokens_in is not None:  # the chair's call, when it was billed
            costs.append(self.summary.cost_usd)
        return None if any(c is None for c in costs) else round(sum(costs), 6)

    paid_ids: set[str] = field(default_factory=set)
    held: list[str] = field(default_factory=list)  # hold reasons: the verdict waits for an editor
    carried: list[Take] = field(default_factory=list)  # other personas' current takes a partial review counts
    # Issue 13: what screening, the differential review and the take checks found; the copy's takes.
    findings: list = field(default_factory=list)
    neutral_takes: list[Take] = field(default_factory=list)
    differential_calls: int = 0
    round_one: list[Take] = field(default_factory=list)  # a two-round review's round one (else empty)
    summary: SummaryRecord | None = None  # the chair's panel summary of the verdict (toolpanel.panel.chair)


class TransientFailure(Exception):
    """Internal signal to the orchestrator (retry): some takes failed transiently; the run was closed as 'retrying' without a verdict."""

    def __init__(self, result: "ReviewResult", failed: list[Take]):
        names = ", ".join(f"{t.persona_id} ({t.error_class})" for t in failed)
        super().__init__(f"{result.tool.slug}: transient provider failure for {names}; retrying pays only for these")
        self.result, self.failed = result, failed


CLAIM_LEASE_MIN = 600.0  # seconds
CLAIM_POLL = 0.25  # seconds between looks at another process's claims


class Panel(SecondRound):
    """Reviews tools with a persona panel through one LLM seam, storing every take as it lands."""

    def __init__(self, settings: Settings, llm: LLM, store: Warehouse | None, personas: list[Persona],
                 concurrency: int | None = None):
        self.settings = settings
        self.llm = llm
        self.store = store
        self.personas = personas
        self.profile = profile_for(settings)  # compact for the local model
        self.prompt_hash = prompts.prompt_hash(settings.prompts_dir, self.profile)
        self.endpoint = endpoint_identity(settings)  # the bundled model by its file, never by its port
        # Read with the combined hash: each part's hash is recorded per run (warehouse.changes, `toolpanel why`).
        self.rounds = settings.panel.rounds  # 2: the panel deliberates (toolpanel.panel.rounds)
        self.round_two_hash = prompts.round_two_hash(settings.prompts_dir, self.profile)
        two = prompts.round_two_sources(settings.prompts_dir) if self.rounds == 2 else {}
        self.templates = template_records({**prompts.template_sources(settings.prompts_dir, self.profile), **two})
        self._inputs_stored: set[str] = set()  # hashes whose content a committed run of this panel stored
        # Every model call holds a slot of this in-process cap; the flows size it to the provider
        # slots they hold on the Prefect global concurrency limit.
        self.concurrency = concurrency or settings.concurrency
        self._semaphore = asyncio.Semaphore(self.concurrency)
        self._in_flight = asyncio.Semaphore(1 if self.concurrency == 1 else 2 * self.concurrency)
        self.commit = GroupCommit(store)  # concurrent reviews share short transactions
        self._abandoned_closed = False
        # Takes another process was already paying for, which this one waited for instead: {(pid, host): n}.
        self.waited: dict[tuple[int, str], int] = {}
        # A claim outlives the slowest honest take (every retry timing out) with room for queueing.
        self.claim_lease = max(CLAIM_LEASE_MIN, 4 * settings.timeout * (settings.max_retries + 1))
        self.spend = Spend(settings.budget, settings.prices, settings.max_tokens)  # [budget], one per batch
        # The outlier check's baseline: other runs' ok takes, read once per batch, plus this panel's own
        # (added as they are stored; the read leaves out every run this panel started, so none counts twice).
        self._history: ScoreHistory | None = None
        self._mine = ScoreHistory()
        self._runs: list[str] = []
        self._expected: list[str] = []  # slugs announced by the batch (expect)
        self._split: set[str] = set()  # slugs whose own sums the baseline holds apart

    def expect(self, tools: list[Tool]) -> None:
        """The batch's tools: the outlier baseline reads their own sums with everyone's, in one query."""
        self._expected = [t.slug for t in tools]

    async def score_history(self, slug: str) -> dict[str, tuple[int, float, float]]:
        """Per persona: ok takes on other tools (earlier runs and this batch), their mean and deviation."""
        if self._history is None or slug not in self._split:
            await self.commit.run(lambda con: self._read_history(con, slug))
        return self._history.without(slug, self._mine)

    def _read_history(self, con, slug: str) -> None:
        """The warehouse's part of the outlier baseline (in the caller's transaction): read once per batch,
        and again only for a tool the batch did not announce (its own sums, moved out of "everyone else")."""
        if self._history is not None and slug in self._split:
            return
        wanted = [slug] if self._history is not None else sorted({*self._expected, slug})
        sums = self.store.persona_score_sums(con, exclude_runs=list(self._runs), slugs=wanted)
        if self._history is None:
            self._history = ScoreHistory(sums)
        else:
            self._history.split_out({k: v for k, v in sums.items() if k[1] == slug})
        self._split.update(wanted)

    def model_for(self, persona: Persona, request: ReviewRequest, slug: str = "") -> str:
        return request.model_override or self.settings.model_for(persona.id, slug)

    async def unstored_take(self, tool: Tool, persona: Persona, shared: list[dict], model: str,
                            followup: rounds.Followup | None = None) -> Take:
        """One fresh take that is neither cached nor stored (evaluation runs; `store` may be None); with a
        `followup`, the persona's round-two take."""
        return await self._take(tool, persona, shared, model, followup=followup)

    async def review(self, tool: Tool, request: ReviewRequest | None = None,
                     on_take: Callable[[Take], None] | None = None) -> ReviewResult:
        # Tools in flight are bounded: a batch that started all its tools at once queued every tool's
        # warehouse look before any provider call; bounded, the looks of the next tools overlap the calls.
        async with self._in_flight:
            return await self._look_and_review(tool, request or ReviewRequest(), on_take)

    async def _look_and_review(self, tool: Tool, request: ReviewRequest, on_take: Callable | None) -> ReviewResult:
        personas = self.personas if not request.personas else [p for p in self.personas if p.id in request.personas]
        first, self._abandoned_closed = not self._abandoned_closed, True
        models = {p.id: self.model_for(p, request, tool.slug) for p in personas}
        keys = {p.id: (tool.snapshot_hash, p.version, self.prompt_hash, models[p.id]) for p in personas}
        claim = not request.force  # a forced review pays on purpose; it neither waits nor blocks others

        def lookup(wanted: list[tuple], con, sweep: bool = True) -> tuple[dict, dict]:
            """Cached takes, then claims on the rest (same transaction): what others are paying for."""
            self.spend.refresh(con)  # today's spend by others (only with a daily cap)
            found = {} if request.force else self.store.cached_takes(wanted, con)
            held = self.store.claim_takes(wanted, self.claim_lease, con, have=found, sweep=sweep) if claim else {}
            return found, held

        new_snapshot, cached, held = await self.commit.run(Look(
            self.store, tool, list(keys.values()), force=request.force, claim=claim, lease=self.claim_lease,
            first=first, spend=self.spend))
        for holder in held.values():  # counted once per take waited for, not per look
            self.waited[holder] = self.waited.get(holder, 0) + 1
        while held:  # another process is paying for these: wait for its takes rather than pay twice
            await asyncio.sleep(CLAIM_POLL)
            more, held = await self.commit.run(lambda con: lookup(list(held), con))
            cached.update(more)
        mine = [k for k in keys.values() if k not in cached] if claim else []
        others = [p.id for p in self.personas if p not in personas]  # a partial re-review carries their takes
        try:
            carried = others and await self.commit.run(
                lambda con: self.store.current_takes(tool.slug, tool.snapshot_hash, others, con))
            return await self._review(tool, request, personas, models, keys, cached, new_snapshot, on_take, carried)
        except BaseException:
            if mine:  # a finished review releases them with its end; this one stopped early
                with contextlib.suppress(Exception):
                    await self.commit.run(lambda con: self.store.release_claims(mine, con))
            raise

    async def _review(self, tool: Tool, request: ReviewRequest, personas: list[Persona], models: dict,
                      keys: dict, cached: dict, new_snapshot: bool, on_take: Callable | None,
                      carried: list[tuple[Take, CarriedTake]]) -> ReviewResult:
        hits = {pid: cached[k] for pid, k in keys.items() if k in cached}
        panel, carried_takes = [p.id for p in self.personas], [t for t, _ in carried]

        if len(hits) == len(personas):
            first = [hits[p.id] for p in personas]
            plan = self._plan(tool, first, carried)
            second = await self._cached_second(plan, request) if plan else {}
            if len(second) == len(plan):  # every take of both rounds is cached
                verdict = panel_verdict(tool.slug, takes := rounds.final(first, second), panel, carried)
                already = await self.commit.run(
                    lambda con: self.store.verdict_with_takes(tool.slug, verdict.take_ids, con))
                if already or not verdict.quorum_met:
                    return ReviewResult(tool, takes + carried_takes, verdict, None, 0, len(hits) + len(second),
                                        new_snapshot, carried=carried_takes, round_one=first if plan else [])

        marker = prompts.new_marker()
        shared = prompts.shared_messages(self.settings.prompts_dir, tool, marker, self.personas, self.profile)
        missing = [p for p in personas if p.id not in hits]
        holds = {p.id: self.spend.estimate(self._messages(shared, p), models[p.id]) for p in missing}
        stop = await self.spend.admit(list(holds.values()), request.exceed_daily_budget)
        if stop:  # no run, no takes: the tool stays pending
            raise BudgetStopped(tool.slug, stop)

        def begin(con) -> str:
            rid = self.store.start_run(
                tool=tool, trigger=request.trigger, reason=request.reason, forced=request.force,
                prompt_hash=self.prompt_hash, persona_versions={p.id: p.version for p in personas},
                models=models, flow_run_id=request.flow_run_id, con=con,
                settings={"timeout": self.settings.timeout, "max_retries": self.settings.max_retries,
                          "temperature": self.settings.temperature, "max_tokens": self.settings.max_tokens,
                          "base_url": self.endpoint})
            if hits:
                self.store.link_cached(rid, hits.values(), con)
            self._read_history(con, tool.slug)  # here rather than a transaction of its own after the calls
            return rid, record_run_inputs(con, rid, self.templates, personas, self._inputs_stored)

        try:
            run_id, stored = await self.commit.run(begin)
        except BaseException:
            for h in holds.values():
                await self.spend.settle(h, 0, 0, replied=False)
            raise
        self._inputs_stored |= stored  # committed: later runs of this panel record only the hashes
        self._runs.append(run_id)  # before any of its takes is stored (see _history)
        self.spend.run_ids.add(run_id)

        async def one(persona: Persona) -> Take:
            take = await self._take(tool, persona, shared, models[persona.id], holds[persona.id],
                                    request.exceed_daily_budget)
            await self.commit.run(TakeInsert(self.store, [(run_id, take)]))
            self._mine.add(take)
            if on_take:
                on_take(take)
            return take

        fresh = list(await asyncio.gather(*(one(p) for p in missing)))
        by_id = {**hits, **{t.persona_id: t for t in fresh}}
        first = [by_id[p.id] for p in personas]
        stops = any(t.error_class == BUDGET_EXHAUSTED or (request.defer_transient and t.status == "failed"
                                                           and t.error_class in TRANSIENT_ERRORS) for t in fresh)
        plan = {} if stops else self._plan(tool, first, carried)  # a run about to stop pays for no round two
        second, cached_second = await self._second_round(tool, plan, shared, run_id, request, on_take)
        fresh += [t for t in second.values() if t.take_id not in {c.take_id for c in cached_second}]
        verdict = panel_verdict(tool.slug, takes := rounds.final(first, second), panel, carried)
        result = ReviewResult(tool, takes + carried_takes, verdict, run_id=run_id, paid_calls=len(fresh),
                              cached_takes=len(hits) + len(cached_second), new_snapshot=new_snapshot,
                              paid_ids={t.take_id for t in fresh}, carried=carried_takes,
                              round_one=first if plan else [])
        counts = (len(fresh), result.cached_takes)  # the run's paid and cached takes (run_results)
        refused = [t for t in fresh if t.error_class == BUDGET_EXHAUSTED]
        if refused:  # a repair the budget refused: no verdict from part of a panel; the tool stays pending
            await self.commit.run(FinishRun(self.store, run_id, tool.snapshot_hash, verdict, *counts,
                                            "budget_stopped", claims=list(keys.values())))
            raise BudgetStopped(tool.slug, self.spend.stopped or "the budget refused a repair call", result)
        transient = [t for t in fresh if t.status == "failed" and t.error_class in TRANSIENT_ERRORS]
        if transient and request.defer_transient:
            await self.commit.run(FinishRun(self.store, run_id, tool.snapshot_hash, verdict, *counts,
                                            "retrying", claims=list(keys.values())))
            raise TransientFailure(result, transient)
        # Vendor text must not steer a published verdict: screening, differential review, take checks.
        # ... on the round-one takes: independent views are what steering and the take checks measure.
        checked = await injection.check(self, tool, first, request, run_id)
        result.findings, result.neutral_takes = checked.plain, checked.neutral_takes
        result.differential_calls = checked.calls
        # The chair's summary of the verdict (ok or failed: the verdict never waits for it), stored with it.
        result.summary = await chair.summarise(self, tool, verdict, takes + carried_takes, request, run_id)
        # Findings, the verdict, its decision (the hold rules see the findings and every take counted,
        # carried ones too), its summary and the claims go in one transaction: a process that waited sees all or none.
        result.held = await self.commit.run(FinishRun(
            self.store, run_id, tool.snapshot_hash, verdict, *counts, claims=list(keys.values()),
            takes=takes + carried_takes, hold=self.settings.hold, findings=checked.plain, layered=checked.findings,
            summary=result.summary))
        return result

    def _messages(self, shared: list[dict], persona: Persona, followup: rounds.Followup | None = None) -> list[dict]:
        messages = shared + [prompts.persona_message(self.settings.prompts_dir, persona, self.profile)]
        if followup is not None:  # round two: the others' round-one takes, anonymised
            own, others = rounds.anonymised(followup, self.personas)
            messages.append(prompts.round_two_message(self.settings.prompts_dir, own, others, self.profile))
        return messages

    async def _take(self, tool: Tool, persona: Persona, shared: list[dict], model: str, hold: Hold | None = None,
                    exceed_daily: bool = False, followup: rounds.Followup | None = None) -> Take:
        """One paid call (and its repair). Without a `hold` admitted by the review (round two, differential and
        eval calls), the call is admitted here, so every paid call meets the [budget] caps."""
        messages = self._messages(shared, persona, followup)
        repairs: list[int] = []
        if hold is None:
            hold = self.spend.estimate(messages, model)
            stop = await self.spend.admit([hold], exceed_daily)
            if stop:
                return self._failed(tool, persona, model, BUDGET_EXHAUSTED, f"not sent: {stop}", followup)

        async def may_repair(convo: list[dict]) -> bool:
            ok = await self.spend.extend(hold, convo, exceed_daily)
            repairs.extend([1] if ok else [])
            return ok

        c = None
        try:
            async with self._semaphore:
                c = await self.llm.take(messages, model,
                                        lambda err: prompts.repair_message(self.settings.prompts_dir, err, self.profile), may_repair,
                                        quotes=compact_quotes(tool) if self.profile == COMPACT else None)
        finally:
            await self.spend.settle(hold, c and c.tokens_in, c and c.tokens_out, replied=bool(c and c.raw is not None),
                                    calls=1 + len(repairs))
        out = c.output
        status = "failed" if out is None else "abstained" if out.abstain else "ok"
        flags = [Flag.CONTRADICTION_REPAIRED if c.first_rule == "contradiction" else Flag.REPAIRED] if c.repaired else []
        evidence = [prompts.unmark(q) for q in out.evidence] if status == "ok" else []
        if evidence and unsupported_quotes(evidence, tool.card_text()):
            flags.append(Flag.UNGROUNDED)
        position = status == "ok"
        return Take(
            take_id=new_id("tk"), tool_slug=tool.slug, snapshot_hash=tool.snapshot_hash, persona_id=persona.id,
            persona_version=persona.version, model=model, prompt_hash=self._hash(followup), status=status,
            score=out.score if position else None, verdict=out.verdict if position else None,
            paragraph=out.paragraph.strip() if out else None, evidence=evidence, flags=[str(f) for f in flags],
            cost_usd=cost_usd(self.settings.prices.get(model), c.tokens_in, c.tokens_out), created_at=now(),
            **(c.take_fields() | ({} if out is None else {"error_class": None, "error": None})),
            **self._round_fields(followup))

    def _failed(self, tool: Tool, persona: Persona, model: str, error_class: str, error: str,
                followup: rounds.Followup | None = None) -> Take:
        """A take that was never asked for (the budget refused it): failed, with its reason, never counted."""
        return Take(take_id=new_id("tk"), tool_slug=tool.slug, snapshot_hash=tool.snapshot_hash, persona_id=persona.id,
                    persona_version=persona.version, model=model, prompt_hash=self._hash(followup), status="failed",
                    error_class=error_class, error=error, created_at=now(), **self._round_fields(followup))
