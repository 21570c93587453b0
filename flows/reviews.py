"""Prefect flows. Thin: they wire the stage functions the CLI also uses (intake, panel, warehouse).

- daily-review: new / changed / pending tools from the configured sources -> reviews -> snapshot -> publish
- re-review:    an editor re-reviews tools from the Prefect UI form, with a reason
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Annotated

from prefect import flow, get_run_logger, task
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.states import Failed

from flows import artifacts
from flows.forms import NotBlank, PersonaId, form
from flows.panel import flow_panel
from toolpanel import scorecard
from toolpanel.screening import differential as injection
from toolpanel.panel.budget import BudgetStopped
from toolpanel.config import Settings, load_settings
from toolpanel.errors import ToolpanelError
from toolpanel.ingest.run import ingest_configured
from toolpanel.ingest.intake import for_review
from toolpanel.models import Tool
from toolpanel.panel.batch import for_each
from toolpanel.panel.review import Panel, ReviewResult, TransientFailure
from toolpanel.models import ReviewRequest
from toolpanel.panel.personas import PersonaError
from toolpanel.panel.summary import RunSummary, plural
from toolpanel.queue.views import UnknownTool
from warehouse.store import Warehouse
from warehouse.connection import LockStats


async def _review_one(panel: Panel, tool: Tool, request: ReviewRequest, settings: Settings, published: bool,
                      logger) -> ReviewResult:
    """One tool, its personas concurrently; a transient provider failure is retried for this tool alone,
    paying only for the personas that failed (the warehouse caches the rest)."""
    retries, delays = _flow_settings(settings)
    for attempt in range(1, retries + 2):
        try:
            result = await panel.review(tool, replace(request, defer_transient=attempt <= retries))
            break
        except TransientFailure as exc:
            delay = delays[min(attempt - 1, len(delays) - 1)]
            failed = ", ".join(f"{t.persona_id} ({t.error_class})" for t in exc.failed)
            logger.warning(f"{tool.slug}: transient failure of {failed}; retry {attempt} of {retries} in {delay:g}s")
            await asyncio.sleep(delay)
    await acreate_markdown_artifact(
        key=f"review-{tool.slug}"[:100],
        markdown=artifacts.review_markdown(settings, tool, result.verdict, result.takes, panel.personas,
                                           trigger=request.trigger, reason=request.reason or "",
                                           published=published, summary=result.summary) + injection.markdown(result),
        description=f"{tool.name}: {result.verdict.label} ({request.trigger}: {request.reason})"[:500])
    return result


def _chunk_label(tools: list[Tool]) -> str:
    if len(tools) == 1:
        return tools[0].slug
    return f"{len(tools)} tools: {tools[0].slug} … {tools[-1].slug}"


@task(name="review-tools", cache_policy=NO_CACHE, persist_result=False, task_run_name="review {label}")
async def review_tools(panel: Panel, tools: list[Tool], requests: list[ReviewRequest], settings: Settings,
                       published: bool, label: str) -> list[ReviewResult | BaseException]:
    """A chunk of tools ([flows] tools_per_task): each keeps its own retries and its own scorecard artifact;
    one tool's failure is recorded for that tool and never stops the others."""
    logger = get_run_logger()
    return await for_each(list(zip(tools, requests)), lambda tr: _review_one(panel, *tr, settings, published, logger),
                          one_at_a_time=panel.concurrency == 1)


async def _review_all(panel: Panel, tools: list[Tool], requests: list[ReviewRequest], settings: Settings,
                      published: bool) -> list[ReviewResult | BaseException]:
    """A Prefect task per chunk of tools: a task run costs the Prefect API several calls, a tool only its own."""
    panel.expect(tools)
    size = settings.flows.tools_per_task
    chunks = [(tools[i:i + size], requests[i:i + size]) for i in range(0, len(tools), size)]

    done = await for_each(chunks, lambda c: review_tools(panel, *c, settings, published, _chunk_label(c[0])),
                          one_at_a_time=panel.concurrency == 1)
    # a chunk whose task itself failed (e.g. the Prefect API): every tool of it failed
    return [r for part, (ts, _) in zip(done, chunks) for r in (part if isinstance(part, list) else [part] * len(ts))]


def _flow_settings(settings: Settings) -> tuple[int, list[float]]:
    cfg = settings.flows
    retries = settings.max_retries if cfg.task_retries is None else cfg.task_retries
    return retries, list(cfg.retry_delay_seconds)


async def _answer_pairs(panel: Panel, request: ReviewRequest, slugs: list[str], logger) -> str:
    """The comparison pages' answers the reviews made due (toolpanel/publish/answers.py), before publishing;
    returns the line the run's summary shows."""
    from toolpanel.publish.answers import answer_pairs, pair_answers_line

    line = pair_answers_line(await answer_pairs(panel, request, slugs))
    logger.info(line)
    return line


def _publish(settings: Settings, logger) -> dict:
    """Refresh the analyst snapshot, then re-render the site (incrementally)."""
    from toolpanel.publish.site import refresh

    report = refresh(settings)
    logger.info(f"published {report['pages']} pages: {report['written']} written, {report['skipped']} unchanged")
    return report


def _summary(results: list, requests: int = 0, rejected: int = 0, slugs: list[str] | None = None) -> RunSummary:
    """The one run summary (toolpanel.panel.summary), as the CLI prints it: per-tool records and their totals."""
    return RunSummary.of(results, rejected=rejected, requests=requests, slugs=slugs)


async def _summary_artifact(flow_name: str, title: str, rows: list[tuple[str, str]], outcomes=()) -> None:
    await acreate_markdown_artifact(key=f"{flow_name}-summary",
                                    markdown=artifacts.summary_markdown(title, rows, list(outcomes)),
                                    description=title[:500])


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
    for i in todo:
        logger.info(f"{i.tool.slug}: reviewing, reason: {i.reason}")
    results: list = []
    sent, answered = 0, "comparison answers: none due"
    if todo:
        async with flow_panel(settings, len(todo), editor=False) as panel:
            requests = [ReviewRequest(trigger="daily", reason=i.reason, flow_run_id=str(flow_run.id)) for i in todo]
            results = await _review_all(panel, [i.tool for i in todo], requests, settings, published=True)
            answered = await _answer_pairs(panel, requests[0], [i.tool.slug for i in todo], logger)
            sent = panel.llm.requests
    run = _summary(results, sent, len(errors), [i.tool.slug for i in todo])
    summary = {"seen": len(tools), **counts, "duplicates": report.counts()["duplicate"],
               "deferred": report.counts()["deferred"],
               "tokens": sum(r.tokens for r in results if isinstance(r, ReviewResult)),
               **run.model_dump(), "exit_code": int(run.exit_code)}
    for i, r in zip(todo, results):
        if isinstance(r, BudgetStopped):
            logger.warning(str(r))
        elif isinstance(r, BaseException):
            logger.error(f"{i.tool.slug}: review failed: {r}")
    from flows.queue import start_queue_run  # held verdicts wait in a review-queue form for an editor
    queue_run = await start_queue_run(logger, summary["held"])
    summary["review_queue_run"] = queue_run and queue_run.id
    published = await asyncio.to_thread(_publish, settings, logger) if settings.warehouse_path.exists() else None
    rows = []
    for i, r in zip(todo, results):
        page = artifacts.link(settings, i.tool.slug) if published else "not published"
        if isinstance(r, ReviewResult):
            rows.append({"tool": i.tool.name, "why": i.reason, "verdict": r.verdict.label,
                         "held": "; ".join(r.held) or "—",
                         "ship %": scorecard.ship_pct_label(r.verdict),
                         "cost": "unknown" if r.cost is None else f"${r.cost:.4f}", "page": page})
        elif isinstance(r, BudgetStopped):
            rows.append({"tool": i.tool.name, "why": i.reason, "verdict": f"pending: {r.reason}", "ship %": "—",
                         "cost": "—", "page": "not reviewed (budget): next run"})
        else:
            rows.append({"tool": i.tool.name, "why": i.reason, "verdict": f"failed: {r}", "ship %": "—",
                         "cost": "—", "page": page})
    if rows:
        await acreate_table_artifact(key="daily-review", table=rows, description="Daily review: tools reviewed")
    why = ", ".join(sorted({i.reason for i in todo})) or "nothing new or changed"
    line = (f"tools seen {summary['seen']}, new {counts['new']}, changed {counts['changed']}, pending "
            f"{counts['pending']}, stale {counts['stale']}, unchanged {counts['unchanged']}, duplicates {summary['duplicates']}, deferred "
            f"{summary['deferred']}, tokens {summary['tokens']}; {run.line()}")
    logger.info(f"daily-review summary (trigger: daily; reasons: {why}): {line}; "
                f"warehouse lock waits {LockStats.waits} ({LockStats.seconds * 1000:.0f} ms)")
    await _summary_artifact("daily-review", f"Daily review: {run.tools_phrase()}", [
        ("Trigger", "daily"), ("Reasons", why), ("Counts", line),
        ("Published", f"{published['written']} pages written, {published['skipped']} unchanged" if published
         else "nothing to publish yet"),
        ("Comparisons", answered), ("Date", artifacts.now_label())],
        artifacts.verdict_lines(settings, [i.tool for i in todo], results, bool(published), queue_run))
    return summary


@flow(name="publish")
async def publish(full: bool = False) -> dict:
    """Re-render the site from the warehouse.

    Args:
        full: Rewrite every page (otherwise only pages whose content changed).
    """
    from toolpanel.publish.site import publish_site

    logger = get_run_logger()
    settings = load_settings()
    why = "full rewrite" if full else "incremental"
    logger.info(f"publish requested ({why})")
    report = await asyncio.to_thread(publish_site, settings, full=full)
    for w in report["warnings"]:
        logger.warning(w)
    line = (f"{report['pages']} pages: {report['written']} written, {report['skipped']} unchanged, "
            f"{report['removed']} removed")
    logger.info(f"publish summary ({why}): {line} in {report['site']}")
    site = (settings.publish.base_url or (settings.site_dir / "index.html").resolve().as_uri())
    await _summary_artifact("publish", f"Publish: {report['written']} pages written", [
        ("Trigger", "editor or API"), ("Reason", why), ("Pages", line), ("Site", artifacts.Markdown(f"[{site}]({site})")),
        ("Warnings", "; ".join(report["warnings"]) or "none"), ("Date", artifacts.now_label())])
    return report


@flow(name="re-review")
async def re_review(
    slugs: Annotated[list[Annotated[str, NotBlank]], form("Tools (slugs)", min_length=1)],
    reason: Annotated[str, NotBlank, form("Reason", min_length=3)],
    personas: Annotated[list[PersonaId], form("Personas")] = [],  # noqa: B006  (never mutated)
    model: Annotated[str, form("Model override")] = "",
    force: Annotated[bool, form("Force (pay again)")] = True,
    publish: Annotated[bool, form("Publish the site afterwards")] = True,
    exceed_daily_budget: Annotated[bool, form("Exceed the daily budget")] = False,
) -> dict:
    """Editors: re-review tools with a reason, optionally with some personas or another model.

    Args:
        slugs: One or more tool slugs (not blank) as on the site and in the daily table, e.g. smolvlm2-turbo.
        reason: Why you re-review (at least 3 characters, not blank); recorded on the run and shown on the scorecard.
        personas: Only these personas; leave empty for the whole panel.
        model: A model for every persona; leave empty for the configured models.
        force: Ask the panel again even when identical takes are cached (this is paid for).
        publish: Re-render the site when the review is done.
        exceed_daily_budget: Let this run pass the [budget] per-day caps (per-run caps still hold).
    """
    logger = get_run_logger()
    slugs = [s.strip() for s in slugs if s.strip()]
    reason = reason.strip()
    who = ", ".join(personas) if personas else "whole panel"
    logger.info(f"re-review of {', '.join(slugs)} requested; reason: {reason} "
                f"({who}; model {model or 'as configured'}; {'forced' if force else 'cache allowed'})")
    context = [("Trigger", "editor"), ("Reason", reason), ("Personas", who), ("Model", model or "as configured"),
               ("Force", "yes (paid again)" if force else "no (cached takes reused)")]
    try:
        settings = load_settings()
        store = Warehouse(settings.warehouse_path)
        known = store.slugs() if settings.warehouse_path.exists() else []
        unknown = [UnknownTool(s, known) for s in slugs if s not in known]
        if unknown:
            problem = "; ".join(f"no tool '{u.slug}'" + (f" (did you mean {', '.join(u.close)}?)" if u.close else "")
                                for u in unknown)
            raise ToolpanelError(problem, "use a slug from the site or the daily-review table")
        tools = [store.latest_tool(s) for s in slugs]
        async with flow_panel(settings, len(tools), personas, editor=True) as panel:
            reqs = [ReviewRequest(trigger="editor", reason=reason, force=force, model_override=model or None,
                                  flow_run_id=str(flow_run.id), personas=personas or None,
                                  exceed_daily_budget=exceed_daily_budget) for _ in tools]
            results = await _review_all(panel, tools, reqs, settings, published=publish)
            await _answer_pairs(panel, reqs[0], slugs, logger)
            sent = panel.llm.requests
        if publish:
            await asyncio.to_thread(_publish, settings, logger)
        else:
            await asyncio.to_thread(Warehouse(settings.warehouse_path).publish_snapshot, settings.snapshot_path)
    except (ToolpanelError, PersonaError) as exc:  # the editor's to fix: one line, no traceback
        logger.error(f"re-review failed: {exc}")
        await _summary_artifact("re-review", "Re-review failed", [
            *context, ("Tools", ", ".join(slugs)), ("Problem", str(exc)), ("Date", artifacts.now_label())])
        return Failed(message=str(exc))
    run = _summary(results, sent, slugs=[t.slug for t in tools])
    # Told where the editor is: what became of each tool; a held one waits in a review-queue form.
    from flows.queue import start_queue_run

    queue_run = await start_queue_run(logger, run.held)
    outcomes = [artifacts.outcome(settings, t, r, publish, queue_run) for t, r in zip(tools, results)]
    for t, r, o in zip(tools, results, outcomes):
        paid = (f" · {run.counts(t.slug).line()} · {plural(len(r.carried), 'take')} carried"  # as summed up
                if isinstance(r, ReviewResult) else "")
        (logger.info if o.kind in ("published", "held", "unchanged") else logger.warning)(o.text + paid)
    failed = [(str(r) if isinstance(r, BudgetStopped) else f"{t.slug}: {r}")
              + ("; tick 'Exceed the daily budget' on the form to pass the daily cap"
                                  if isinstance(r, BudgetStopped) and "per_day" in r.reason else "")
              for t, r in zip(tools, results) if isinstance(r, BaseException)]
    logger.info(f"re-review summary (reason: {reason}): {run.line()}")
    kinds = [o.kind for o in outcomes]
    title = "Re-review: " + ", ".join(f"{kinds.count(k)} {k}" for k in dict.fromkeys(kinds))
    await _summary_artifact("re-review", title, [
        *context,
        ("Takes", run.takes_phrase()),
        ("Cost", artifacts.cost(run)), ("Date", artifacts.now_label())], [o.markdown for o in outcomes])
    if failed:
        return Failed(message="re-review failed for " + "; ".join(failed)[:400])
    return {"tools": [t.slug for t in tools], "tokens": sum(r.tokens for r in results if isinstance(r, ReviewResult)),
            "outcomes": {t.slug: o.kind for t, o in zip(tools, outcomes)},
            "review_queue_run": queue_run and queue_run.id, **run.model_dump(), "exit_code": int(run.exit_code)}
