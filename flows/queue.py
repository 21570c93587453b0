"""The `review-queue` flow: editors clear held verdicts from a form in the Prefect UI.

The warehouse is the queue (toolpanel/queue.py); this flow only shows it. It suspends (its process
exits, nothing waits on infrastructure) with a form: per held tool approve / reject / re-review / leave
held and a note, plus the editor's name. Resuming records the decisions, re-reviews what was asked and
republishes. A form that is never submitted times out after `[hold] wait_days`: nothing was recorded,
so the verdicts stay held and appear in the next form.
"""

from __future__ import annotations

import asyncio
import re
from typing import Literal

import pydantic
from prefect import flow, get_run_logger, suspend_flow_run
from prefect.artifacts import acreate_table_artifact
from prefect.input import RunInput
from prefect.input.actions import acreate_flow_run_input, aread_flow_run_input
from prefect.runtime import flow_run

from toolpanel.config import load_settings
from toolpanel.errors import ToolpanelError
from toolpanel.personas import load_personas
from toolpanel.queue import QueueItem, decide, held_items, refresh
from warehouse import Warehouse

Action = Literal["leave held", "approve", "reject", "re-review"]
SHOWN_KEY = "review-queue-items"  # what this run's form shows, stored with the run so a resume sees the same
PAUSE_KEY = "editor-decisions"
DEPLOYMENT = "review-queue/editor"
_MD = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


def _md(text: str) -> str:
    """Vendor and model text is data: one line, Markdown and HTML characters escaped."""
    return _MD.sub(r"\\\1", " ".join(str(text).split()))


def _field(slug: str) -> str:
    return "tool_" + re.sub(r"[^0-9a-zA-Z]", "_", slug)


def describe(item: QueueItem) -> str:
    """The text under a tool's choice: reasons, old → new verdict, the takes."""
    old = item.old or "nothing published yet (new tool)"
    several = f" ({item.held_verdicts} held reviews; the newest is shown)" if item.held_verdicts > 1 else ""
    return (f"Held: {'; '.join(item.reasons)}. Published: {old} → new: {item.new}{several}. Takes: "
            + " | ".join(item.takes))


def queue_form(items: list[QueueItem]) -> type[RunInput]:
    """A flat form: the editor's name, then per held tool a choice and a note."""
    fields: dict = {
        "editor": (str, pydantic.Field(min_length=1, pattern=r"\S", title="Your name (required)",
                                       description="Recorded with every decision in this form.")),
    }
    for i in items:
        fields[_field(i.slug)] = (Action, pydantic.Field(default="leave held", title=f"{i.name} ({i.slug})",
                                                         description=_md(describe(i))))
        fields[_field(i.slug) + "_note"] = (str, pydantic.Field(default="", title=f"{i.name}: note",
                                                                description="Why (recorded with the decision)."))
    return pydantic.create_model("ReviewQueueDecisions", __base__=RunInput, **fields)


def form_description(items: list[QueueItem]) -> str:
    lines = [f"**{len(items)} held tool{'s' if len(items) != 1 else ''} wait for an editor.** "
             "Per tool pick approve (publish the newest held verdict), reject (keep what is published), "
             "re-review (ask the panel again; the new verdict is checked again) or leave held, and write a note.", ""]
    for i in items:
        lines.append(f"- **{_md(i.name)}**: {_md('; '.join(i.reasons))} — {_md(i.old or 'new tool')} → {_md(i.new)}")
    return "\n".join(lines)


async def _shown(settings) -> list[QueueItem]:
    """The held tools this run shows: read once, stored with the run (a resumed run sees the same form)."""
    try:
        stored = await aread_flow_run_input(SHOWN_KEY)
    except Exception:  # noqa: BLE001 - not stored yet: first execution
        stored = None
    if stored is not None:
        return [QueueItem(**x) for x in stored]
    store = Warehouse(settings.warehouse_path)
    items = await asyncio.to_thread(held_items, store, load_personas(settings.personas_dir)) \
        if settings.warehouse_path.exists() else []
    await acreate_flow_run_input(SHOWN_KEY, [i.model_dump() for i in items])
    return items


@flow(name="review-queue")
async def review_queue() -> dict:
    """Editors: approve, reject or re-review every held verdict, from one form."""
    from flows.panel import flow_panel
    from toolpanel.panel import ReviewRequest, ReviewResult

    logger = get_run_logger()
    settings = load_settings()
    items = await _shown(settings)
    if not items:
        logger.info("Nothing is held: every complete verdict is published.")
        return {"held": 0}
    logger.info(f"{len(items)} held tool(s) wait for an editor: " + ", ".join(i.slug for i in items))
    form = queue_form(items).with_initial_data(description=form_description(items))
    answer = await suspend_flow_run(wait_for_input=form, timeout=int(settings.hold.wait_days * 86400), key=PAUSE_KEY)
    editor = answer.editor.strip()
    run_id = str(flow_run.id)
    rows, again = [], []
    for i in items:
        action, note = getattr(answer, _field(i.slug)), getattr(answer, _field(i.slug) + "_note").strip()
        outcome = action
        if action in ("approve", "reject"):
            try:
                await asyncio.to_thread(decide, settings, i.slug, "approved" if action == "approve" else "rejected",
                                        editor=editor, note=note, flow_run_id=run_id, verdict_id=i.verdict_id)
                outcome = "approved" if action == "approve" else "rejected"
            except ToolpanelError as exc:  # decided meanwhile (CLI or another form): nothing to do
                outcome = f"skipped: {exc.problem}"
                logger.warning(f"{i.slug}: {exc}")
        elif action == "re-review":
            again.append((i, note))
        rows.append({"tool": i.name, "decision": outcome, "note": note, "editor": editor})
    if again:
        store = Warehouse(settings.warehouse_path)
        tools = [store.latest_tool(i.slug) for i, _ in again]
        async with flow_panel(settings, len(tools), editor=True) as panel:
            # the panel's own stage call: a take that still fails is a failed take, and the hold rules see it
            results = await asyncio.gather(*(panel.review(t, ReviewRequest(
                trigger="editor", force=True, flow_run_id=run_id,
                reason=f"re-review asked in the review queue by {editor}" + (f": {note}" if note else "")))
                for t, (_, note) in zip(tools, again)), return_exceptions=True)
        for (i, _), r in zip(again, results):
            row = next(x for x in rows if x["tool"] == i.name)
            if isinstance(r, ReviewResult):
                row["decision"] = f"re-reviewed: {r.verdict.label}" + (f" (held again: {'; '.join(r.held)})"
                                                                       if r.held else " (published)")
            else:
                row["decision"] = f"re-review failed: {r}"
    report = await asyncio.to_thread(refresh, settings)
    await acreate_table_artifact(key="review-queue", table=rows, description=f"Review queue decisions by {editor}")
    for r in rows:
        logger.info(f"{r['tool']}: {r['decision']}" + (f" — {r['note']}" if r["note"] else ""))
    logger.info(f"published {report['pages']} pages: {report['written']} written")
    return {"held": len(items), "editor": editor, "decisions": rows}


async def start_queue_run(logger, held: int) -> str | None:
    """End of a daily run that held something: start the form (needs the served deployment)."""
    if not held:
        return None
    from prefect.deployments import run_deployment

    try:
        run = await run_deployment(DEPLOYMENT, timeout=0, as_subflow=False)
    except Exception as exc:  # noqa: BLE001 - no server or deployment: the CLI clears the queue too
        logger.warning(f"{held} verdict(s) held; could not start {DEPLOYMENT} ({exc.__class__.__name__}) — "
                       "clear the queue with: toolpanel queue, toolpanel approve SLUG --editor NAME")
        return None
    logger.info(f"{held} verdict(s) held for an editor: review-queue run {run.name} ({run.id}) waits for the form")
    return str(run.id)
