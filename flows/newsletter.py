"""The weekly `newsletter` flow: `toolpanel newsletter send` on a schedule ([flows] newsletter_cron). Thin: it
calls the same function as the CLI (toolpanel.newsletter.send.send) and logs and returns its report."""

from __future__ import annotations

import asyncio

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact
from prefect.states import Failed

from flows import artifacts
from toolpanel.config import load_settings
from toolpanel.errors import ToolpanelError
from toolpanel.newsletter.send import last_complete_week, send


@flow(name="newsletter")
async def newsletter(week: str = "") -> dict:
    """Email the week's verdicts to every subscriber not yet sent them.

    Args:
        week: The ISO week to send, e.g. 2026-W49; empty: last week (the last complete ISO week).
    """
    logger = get_run_logger()
    try:
        settings = load_settings()
        chosen = week.strip() or last_complete_week(settings)
        report = await asyncio.to_thread(send, settings, chosen)
    except ToolpanelError as exc:  # the operator's to fix (settings, an unreachable server): one line
        logger.error(f"newsletter failed: {exc}")
        await _summary("Newsletter failed", [("Problem", str(exc)), ("Date", artifacts.now_label())])
        return Failed(message=str(exc))
    for r in report.deferred + report.bounced:
        logger.warning(r.line())
    logger.info(f"newsletter summary: {report.line()}")
    await _summary(f"Newsletter {report.week}: {len(report.sent)} sent", [
        ("Week", report.week), ("Summary", report.line()), ("Date", artifacts.now_label())])
    return {"week": report.week, "sent": len(report.sent), "already": report.already,
            "deferred": [r.address for r in report.deferred], "bounced": [r.address for r in report.bounced],
            "exit_code": int(report.exit_code)}


async def _summary(title: str, rows: list[tuple[str, str]]) -> None:
    await acreate_markdown_artifact(key="newsletter-summary", markdown=artifacts.summary_markdown(title, rows),
                                    description=title[:500])
