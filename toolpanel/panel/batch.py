"""Run a batch of reviews end to end: provider up, panel, warehouse, analyst snapshot."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from toolpanel.config import Settings
from toolpanel.panel.llm import LLM
from toolpanel.models import Persona, Tool
from toolpanel.panel.review import Panel, ReviewResult
from toolpanel.models import ReviewRequest
from toolpanel.panel.provider import resolved_settings
from warehouse.store import Warehouse
from warehouse.journal import Journaled
from warehouse.connection import WarehouseBusy


@asynccontextmanager
async def open_panel(settings: Settings, personas: list[Persona], concurrency: int | None = None):
    """A Panel on a reachable provider (settings from `resolved_settings`); closes its client afterwards."""
    llm = LLM(settings, mode_cache=settings.home / "endpoints.json")
    try:
        yield Panel(settings, llm, Warehouse(settings.warehouse_path), personas, concurrency=concurrency)
    finally:
        await llm.aclose()


@dataclass
class Batch:
    """What a batch of reviews produced, beyond the per-tool results: for the summary and its notes."""

    results: list[ReviewResult | BaseException] = field(default_factory=list)
    requests: int = 0  # HTTP requests sent to the provider (retries, repairs and mode probes included)
    notes: list[str] = field(default_factory=list)  # e.g. an output mode given up
    journaled_takes: int = 0  # paid takes written to the journal because the warehouse was held
    journal: Path | None = None
    busy: WarehouseBusy | None = None  # the lock wait ran out (the first such error)
    pair_answers: list = field(default_factory=list)  # comparison answers written after the reviews (PairRecord)

    @property
    def summary_fields(self) -> dict:
        return {"requests": self.requests, "journaled_takes": self.journaled_takes,
                "warehouse_busy": self.busy is not None or self.journal is not None}


def waited_notes(panel: Panel) -> list[str]:
    return [f"{n} take{'s' if n != 1 else ''} were already being paid for by another toolpanel process "
            f"(pid {pid} on {host}); waited for them instead of paying twice" for (pid, host), n in panel.waited.items()]


async def review_tools(settings: Settings, personas: list[Persona], tools: list[Tool], request: ReviewRequest,
                       on_done: Callable | None = None, after: Callable | None = None) -> Batch:
    """Review `tools` against an already reachable provider; refresh the analyst snapshot after the batch.
    `after(panel, request, slugs)` runs on the same panel once the reviews are stored (the comparisons'
    answers: toolpanel/publish/answers.py, which this layer may not import)."""
    batch = Batch()
    try:
        async with open_panel(settings, personas) as panel:
            try:
                batch.results = await review_batch(panel, tools, request, on_done)
                if after is not None:
                    batch.pair_answers = await after(panel, request, [t.slug for t in tools])
            finally:
                batch.requests = panel.llm.requests
                batch.notes = list(panel.llm.notes) + waited_notes(panel) + panel.spend.notes
        return batch
    finally:
        batch.journaled_takes, batch.journal = Journaled.takes, Journaled.path
        batch.busy = next((r for r in batch.results if isinstance(r, WarehouseBusy)), None)
        if settings.warehouse_path.exists():
            store = Warehouse(settings.warehouse_path)
            try:
                await asyncio.to_thread(store.publish_snapshot, settings.snapshot_path)
            except WarehouseBusy as exc:  # the snapshot waits for the next run; the journal keeps the work
                batch.busy = batch.busy or exc
        if batch.journal is not None and not batch.journal.exists():  # replayed already by a later write
            batch.journaled_takes, batch.journal = 0, None


def run_review(settings: Settings, personas: list[Persona], tools: list[Tool], *, trigger: str = "cli",
               reason: str | None = None, force: bool = False, model_override: str | None = None,
               flow_run_id: str | None = None, on_done: Callable | None = None,
               exceed_daily_budget: bool = False, only: list[str] | None = None,
               after: Callable | None = None) -> Batch:
    """Synchronous entry point (CLI): starts the local model when no provider is configured. `only` asks
    some of `personas` again; the verdict carries the others' current takes (a partial re-review)."""
    request = ReviewRequest(trigger=trigger, reason=reason, force=force, model_override=model_override,
                            flow_run_id=flow_run_id, exceed_daily_budget=exceed_daily_budget, personas=only or None)
    with resolved_settings(settings) as live:
        return asyncio.run(review_tools(live, personas, tools, request, on_done, after))


async def review_batch(panel: Panel, tools: list[Tool], request: ReviewRequest | None = None,
                       on_done: Callable[[ReviewResult | BaseException, Tool], None] | None = None
                       ) -> list[ReviewResult | BaseException]:
    """Review many tools concurrently (the panel's limiter bounds LLM calls); one failure never stops the rest.

    With one call at a time (the bundled local model) tools go one after another, so a tool's five
    persona calls run back to back and the server's prompt cache reuses their shared prefix."""
    panel.expect(tools)

    async def one(tool: Tool):
        try:
            res = await panel.review(tool, request)
        except Exception as exc:  # recorded per tool; the batch goes on (on_done sees it too)
            res = exc
        if on_done:
            on_done(res, tool)
        return res

    return await for_each(tools, one, one_at_a_time=panel.concurrency == 1)


async def for_each(items: list, work: Callable, *, one_at_a_time: bool = False) -> list:
    """The batch loop of the CLI and the flows: `work(item)` for every item, concurrently, or one after
    another (one call at a time: the bundled model keeps its prompt cache warm). An item's exception is
    its result: one failure never stops the rest."""
    async def safe(item):
        try:
            return await work(item)
        except Exception as exc:
            return exc

    if one_at_a_time:
        return [await safe(i) for i in items]
    return list(await asyncio.gather(*(safe(i) for i in items)))
