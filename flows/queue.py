"""The `review-queue` flow: editors clear held verdicts from a form in the Prefect UI.

The warehouse is the queue (toolpanel/queue/held.py); this flow only shows it. It suspends (its process
exits, nothing waits on infrastructure) with a form: per held tool approve / reject / re-review / leave
held and a note, plus the editor's name. Resuming records the decisions, re-reviews what was asked and
republishes. A form that is never submitted times out after `[hold] wait_days`: nothing was recorded,
so the verdicts stay held and appear in the next form.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from typing import Literal

import pydantic
from prefect import flow, get_run_logger, suspend_flow_run
from prefect.artifacts import acreate_table_artifact
from prefect.input import RunInput
from prefect.input.actions import acreate_flow_run_input, aread_flow_run_input
from prefect.runtime import flow_run

from flows import artifacts
from toolpanel.config import load_settings
from toolpanel.errors import ToolpanelError
from toolpanel.panel.personas import load_personas
from toolpanel.publish.site import refresh
from toolpanel.queue.held import QueueItem, decide, held_items
from warehouse.store import Warehouse
from warehouse.connection import WarehouseBusy

Action = Literal["leave held", "approve", "reject", "re-review"]
SHOWN_KEY = "review-queue-items"  # what this run's form shows, stored with the run so a resume sees the same
PAUSE_KEY = "editor-decisions"
DEPLOYMENT = "review-queue/review-queue"
_MD = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


class SuspensionIsNormal(logging.Filter):
    """Prefect 3.9's async flow engine ends every run with `Finished in state …` on the `prefect.flow_runs`
    logger, at ERROR unless the state is Completed (prefect/flow_engine.py, AsyncFlowRunEngine.start):
    this flow's suspension, which only waits for an editor's form, read as a failure in the run's log.
    There is no setting for it; this filter downgrades exactly that record to INFO."""

    PREFIX = "Finished in state Suspended("

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO and str(record.msg).startswith(self.PREFIX):
            record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
        return True


def quiet_suspension() -> None:
    """Install `SuspensionIsNormal` on the flow-run logger (once per process)."""
    logger = logging.getLogger("prefect.flow_runs")
    if not any(isinstance(f, SuspensionIsNormal) for f in logger.filters):
        logger.addFilter(SuspensionIsNormal())


quiet_suspension()  # loading this flow (a served run's process does) installs it before the engine logs


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
    from toolpanel.models import ReviewRequest
    from toolpanel.panel.review import ReviewResult

    quiet_suspension()  # and again should logging have been set up anew since this module was loaded
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
            except WarehouseBusy:  # the decision is not recorded: the run fails and says so, never "skipped"
                raise
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
        held_again = sum(1 for r in results if isinstance(r, ReviewResult) and r.held and r.verdict.quorum_met)
        queue_run = await start_queue_run(logger, held_again)  # the next form shows what was held again
        for (i, _), r, t in zip(again, results, tools):
            row = next(x for x in rows if x["tool"] == i.name)
            row["decision"] = "re-reviewed, " + artifacts.outcome(settings, t, r, True, queue_run).what
    report = await asyncio.to_thread(refresh, settings)
    await acreate_table_artifact(key="review-queue", table=rows, description=f"Review queue decisions by {editor}")
    for r in rows:
        logger.info(f"{r['tool']}: {r['decision']}" + (f" — {r['note']}" if r["note"] else ""))
    logger.info(f"published {report['pages']} pages: {report['written']} written")
    return {"held": len(items), "editor": editor, "decisions": rows}


@dataclass
class QueueRun:
    """The review-queue run that now shows an editor the held verdicts."""

    id: str
    name: str
    url: str | None  # the run's page in the Prefect UI
    replaced: list[str] = field(default_factory=list)  # older waiting forms this one supersedes


async def start_queue_run(logger, held: int) -> QueueRun | None:
    """A run held something: start a review-queue form over every held verdict (needs the served
    deployment). An older form still waiting is cancelled in its favour, so an editor has exactly one
    form, and it shows the new holds too."""
    if not held:
        return None
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (DeploymentFilter, DeploymentFilterId, FlowRunFilter,
                                                FlowRunFilterState, FlowRunFilterStateType)
    from prefect.client.schemas.objects import StateType
    from prefect.deployments import run_deployment
    from prefect.states import Cancelled
    from prefect.utilities.urls import url_for

    try:
        run = await run_deployment(DEPLOYMENT, timeout=0, as_subflow=False)
    except Exception as exc:  # noqa: BLE001 - no server or deployment: the CLI clears the queue too
        logger.warning(f"{held} verdict(s) held; could not start {DEPLOYMENT} ({exc.__class__.__name__}) — "
                       "clear the queue with: toolpanel queue, toolpanel approve SLUG --editor NAME")
        return None
    out = QueueRun(id=str(run.id), name=run.name, url=url_for(run))
    try:
        async with get_client() as client:
            waiting = await client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[run.deployment_id])),
                flow_run_filter=FlowRunFilter(state=FlowRunFilterState(
                    type=FlowRunFilterStateType(any_=[StateType.PAUSED, StateType.SCHEDULED, StateType.PENDING]))))
            for old in waiting:
                if old.id != run.id:
                    await client.set_flow_run_state(old.id, Cancelled(
                        message=f"superseded by review-queue run {run.name}, which shows every held verdict"),
                        force=True)
                    out.replaced.append(old.name)
    except Exception as exc:  # noqa: BLE001 - the new form is there; an old one left waiting only repeats it
        logger.warning(f"could not cancel older review-queue forms ({exc.__class__.__name__}: {exc})")
    logger.info(f"{held} verdict(s) held for an editor: review-queue run {run.name} waits for the form"
                + (f" at {out.url}" if out.url else f" ({run.id})")
                + (f"; it replaces the waiting form(s) {', '.join(out.replaced)}" if out.replaced else ""))
    return out
