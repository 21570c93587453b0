"""Prefect flows. Thin: they wire the stage functions the CLI also uses (intake, panel, warehouse).

- daily-review: new / changed / pending tools from the configured sources -> reviews -> snapshot -> publish
- re-review:    an editor re-reviews tools from the Prefect UI form, with a reason
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run, task_run
from pydantic import BaseModel, Field, field_validator

from flows.limits import provider_slots
from toolpanel import scorecard
from toolpanel.config import Settings, load_settings
from toolpanel.ingest import ingest_configured
from toolpanel.intake import for_review
from toolpanel.models import Tool
from toolpanel.panel import Panel, ReviewRequest, ReviewResult, TransientFailure
from toolpanel.personas import load_personas
from toolpanel.provider import resolved_settings
from toolpanel.runner import open_panel
from toolpanel.views import UnknownTool
from warehouse import Warehouse
from warehouse.store import LockStats


class ReReviewParams(BaseModel):
    """What an editor fills in on the re-review form."""

    slugs: list[str] = Field(min_length=1, title="Tool slugs", description="One or more tool slugs, e.g. smolvlm2-turbo")
    reason: str = Field(min_length=3, title="Reason", description="Why re-review? Recorded on the run.")
    personas: list[str] = Field(default_factory=list, title="Personas",
                                description="Subset of persona ids (builder, skeptic, ...). Empty = the whole panel.")
    model: str | None = Field(default=None, title="Model override", description="Use this model for every persona.")
    force: bool = Field(default=True, title="Force", description="Bypass the take cache (pay again on purpose).")
    publish: bool = Field(default=True, title="Publish", description="Re-render the site afterwards.")

    @field_validator("slugs")
    @classmethod
    def _clean(cls, v: list[str]) -> list[str]:
        v = [s.strip() for s in v if s.strip()]
        if not v:
            raise ValueError("give at least one tool slug")
        return v


def _is_transient(task, task_run_, state) -> bool:
    """Retry only transient provider failures; the engine hands the raised exception in `state.data`."""
    return isinstance(getattr(state, "data", None), TransientFailure)


@task(name="review-tool", cache_policy=NO_CACHE, persist_result=False, retry_condition_fn=_is_transient,
      task_run_name="review {tool.slug}")
async def review_tool(panel: Panel, tool: Tool, request: ReviewRequest, retries: int) -> ReviewResult:
    """One tool, all its personas concurrently inside; transient provider failures are retried by Prefect."""
    attempt = task_run.run_count or 1
    req = ReviewRequest(**{**request.__dict__, "defer_transient": attempt <= retries})
    result = await panel.review(tool, req)
    await acreate_markdown_artifact(
        key=f"review-{tool.slug}"[:100],
        markdown=scorecard.markdown(tool, result.verdict, result.takes, panel.personas),
        description=f"{tool.name}: {result.verdict.label}")
    return result


@contextlib.asynccontextmanager
async def _panel(settings: Settings, n_tools: int, persona_ids: list[str] | None = None, *, editor: bool):
    load_personas(settings.personas_dir, persona_ids or None)  # unknown persona ids fail here, by name
    personas = load_personas(settings.personas_dir)  # the prompt describes the whole panel either way
    with resolved_settings(settings) as live:
        # Prefect retries the task; the client does not retry too, so the two layers never multiply.
        live = live.model_copy(update={"max_retries": 0})
        async with provider_slots(live, n_tools * len(persona_ids or personas), editor=editor) as slots:
            async with open_panel(live, personas, concurrency=slots) as panel:
                yield panel


async def _review_all(panel: Panel, tools: list[Tool], requests: list[ReviewRequest], retries: int,
                      delays: list[float]) -> list[ReviewResult | BaseException]:
    task_ = review_tool.with_options(retries=retries, retry_delay_seconds=delays)
    if panel.concurrency == 1:  # one call at a time (bundled model): tool by tool keeps its prompt cache warm
        out: list = []
        for t, r in zip(tools, requests):
            try:
                out.append(await task_(panel, t, r, retries))
            except Exception as exc:  # recorded per tool; the batch goes on
                out.append(exc)
        return out
    return list(await asyncio.gather(*(task_(panel, t, r, retries) for t, r in zip(tools, requests)),
                                     return_exceptions=True))


def _flow_settings(settings: Settings) -> tuple[int, list[float]]:
    cfg = settings.flows
    retries = int(cfg.get("task_retries", settings.max_retries))
    delays = [float(x) for x in cfg.get("retry_delay_seconds", [5, 30, 120])]
    return retries, delays


def _publish(settings: Settings, logger) -> dict:
    """Refresh the analyst snapshot, then re-render the site (incrementally)."""
    from toolpanel.publish import publish_site

    Warehouse(settings.warehouse_path).publish_snapshot(settings.snapshot_path)
    report = publish_site(settings)
    logger.info(f"published {report['pages']} pages: {report['written']} written, {report['skipped']} unchanged")
    return report


def _summary(results: list) -> dict[str, Any]:
    ok = [r for r in results if isinstance(r, ReviewResult)]
    costs = [r.cost for r in ok if r.paid_calls]
    return {
        "reviewed": len(ok),
        "failed": len(results) - len(ok),
        "tokens": sum(r.tokens for r in ok),
        "cost": None if any(c is None for c in costs) else round(sum(costs), 6),
    }


@flow(name="daily-review", log_prints=False)
async def daily_review() -> dict:
    """Review what is new or changed in the configured sources, store it, publish."""
    logger = get_run_logger()
    settings = load_settings()
    # Reads every configured source; records source runs, rejections, sightings and URL identities.
    report = await asyncio.to_thread(ingest_configured, settings, trigger="daily")
    tools, errors, intake = report.tools, report.rejections, report.intakes
    for s in report.sources:
        logger.info(f"source {s.name} ({s.kind}): {s.items} items"
                    + (f", failed: {s.error.reason}" if s.error else "")
                    + "".join(f", {v} {k}" for k, v in report.counts(s.name).items() if v))
    for e in errors:
        logger.warning(f"rejected {e}")
    # Stale tools (verdict from an older prompt or persona version) are capped per run, oldest first.
    todo = for_review(intake, settings.flows.max_stale_per_run)
    counts = {s: sum(1 for i in intake if i.status == s) for s in ("new", "changed", "pending", "stale", "unchanged")}
    results: list = []
    if todo:
        retries, delays = _flow_settings(settings)
        async with _panel(settings, len(todo), editor=False) as panel:
            requests = [ReviewRequest(trigger="daily", reason=i.reason, flow_run_id=str(flow_run.id)) for i in todo]
            results = await _review_all(panel, [i.tool for i in todo], requests, retries, delays)
    summary = {"seen": len(tools), **counts, "rejected": len(errors), "duplicates": report.counts()["duplicate"],
               "deferred": report.counts()["deferred"], **_summary(results)}
    for i, r in zip(todo, results):
        if isinstance(r, BaseException):
            logger.error(f"{i.tool.slug}: review failed: {r}")
    published = await asyncio.to_thread(_publish, settings, logger) if settings.warehouse_path.exists() else None
    base = (published or {}).get("base_url", "")
    rows = []
    for i, r in zip(todo, results):
        if isinstance(r, ReviewResult):
            rows.append({"tool": i.tool.name, "why": i.reason, "verdict": r.verdict.label,
                         "ship %": scorecard.ship_pct_label(r.verdict),
                         "cost": "unknown" if r.cost is None else f"${r.cost:.4f}",
                         "page": f"{base}tools/{i.tool.slug}.html" if published else "not published"})
        else:
            rows.append({"tool": i.tool.name, "why": i.reason, "verdict": f"failed: {r}", "ship %": "—",
                         "cost": "—", "page": "—"})
    if rows:
        await acreate_table_artifact(key="daily-review", table=rows, description="Daily review: tools reviewed")
    cost = "unknown" if summary["cost"] is None else f"${summary['cost']:.4f}"
    logger.info(f"daily-review summary: tools seen {summary['seen']}, new {counts['new']}, changed "
                f"{counts['changed']}, pending {counts['pending']}, stale {counts['stale']}, "
                f"reviewed {summary['reviewed']}, failed "
                f"{summary['failed']}, rejected {summary['rejected']}, duplicates {summary['duplicates']}, deferred "
                f"{summary['deferred']}, tokens {summary['tokens']}, cost {cost}; "
                f"warehouse lock waits {LockStats.waits} ({LockStats.seconds * 1000:.0f} ms)")
    return summary


@flow(name="publish")
async def publish(full: bool = False) -> dict:
    """Re-render the site from the warehouse (incremental unless `full`)."""
    from toolpanel.publish import publish_site

    logger = get_run_logger()
    settings = load_settings()
    report = await asyncio.to_thread(publish_site, settings, full=full)
    for w in report["warnings"]:
        logger.warning(w)
    logger.info(f"published {report['pages']} pages to {report['site']}: {report['written']} written, "
                f"{report['skipped']} unchanged, {report['removed']} removed")
    return report


@flow(name="re-review")
async def re_review(request: ReReviewParams) -> dict:
    """Editors: re-review tools (optionally some personas, another model), with a reason."""
    logger = get_run_logger()
    settings = load_settings()
    store = Warehouse(settings.warehouse_path)
    known = store.slugs() if settings.warehouse_path.exists() else []
    unknown = [s for s in request.slugs if s not in known]
    if unknown:
        raise ValueError("; ".join(str(UnknownTool(s, known)) for s in unknown))
    tools = [store.latest_tool(s) for s in request.slugs]
    retries, delays = _flow_settings(settings)
    async with _panel(settings, len(tools), request.personas, editor=True) as panel:
        reqs = [ReviewRequest(trigger="editor", reason=request.reason, force=request.force,
                              model_override=request.model, flow_run_id=str(flow_run.id),
                              personas=request.personas or None) for _ in tools]
        results = await _review_all(panel, tools, reqs, retries, delays)
    failed = [f"{t.slug}: {r}" for t, r in zip(tools, results) if isinstance(r, BaseException)]
    if request.publish:
        await asyncio.to_thread(_publish, settings, logger)
    else:
        await asyncio.to_thread(Warehouse(settings.warehouse_path).publish_snapshot, settings.snapshot_path)
    for t, r in zip(tools, results):
        if isinstance(r, ReviewResult):
            logger.info(f"{t.slug}: {r.verdict.label} (panel ship {scorecard.ship_pct_label(r.verdict)}; "
                        f"{r.paid_calls} paid, {r.cached_takes} cached)")
    if failed:
        raise RuntimeError("re-review failed for " + "; ".join(failed))
    return {"tools": [t.slug for t in tools], **_summary(results)}
