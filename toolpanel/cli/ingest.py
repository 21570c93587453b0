"""`toolpanel ingest` and `toolpanel sources`: what the sources would bring in, and how they last went."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from toolpanel.cli.console import app, dump, fail, out, show
from toolpanel.cli.console import settings as _settings
from toolpanel.errors import ConfigError
from toolpanel.ingest.run import IngestReport, ingest
from toolpanel.ingest.sources import adhoc_sources, configured_sources
from toolpanel.ingest.fetch import USER_AGENT
from warehouse.store import Warehouse

ORDER = 60  # place in --help (toolpanel/cli/__init__.py)

_SHOWN = ("new", "changed", "pending", "stale", "unchanged", "duplicate", "deferred", "rejected")


def _stale_note(stale: int, settings) -> str:
    cap = settings.flows.max_stale_per_run
    return f" (a daily run re-reviews {cap}, oldest verdict first)" if stale > cap else ""


def _counts_text(counts: dict[str, int]) -> str:
    parts = [f"{counts[k]} {k}" for k in _SHOWN if counts.get(k)]
    return ", ".join(parts) if parts else "nothing"


def _where(location: str) -> str:
    """Paths relative to the current directory when they are below it (shorter lines)."""
    try:
        return os.path.relpath(location) if location.startswith("/") and Path(location).is_relative_to(Path.cwd()) \
            else location
    except ValueError:
        return location


def _print_report(report: IngestReport, show_unchanged: bool, settings) -> None:
    for s in report.sources:
        where = _where(s.location)
        head = f"[bold]{escape(s.name)}[/bold] ({s.kind}" + (f", {escape(where)})" if where != s.name else ")")
        if s.error:
            out.print(f"{head}: [red]failed[/red] — {escape(s.error.reason)}")
            continue
        out.print(f"{head}: {s.items} item{'s' if s.items != 1 else ''} — {_counts_text(report.counts(s.name))}")
        for o in report.items:
            if o.source != s.name or (o.status == "unchanged" and not show_unchanged):
                continue
            if o.status == "rejected":
                out.print(f"  [red]rejected[/red]   {escape(o.item)}: {escape(o.reason)}")
                continue
            detail = {"new": o.url or "", "duplicate": o.reason, "deferred": o.reason}.get(o.status, o.reason)
            if o.status == "new" and "; " in o.reason:
                detail += " — " + o.reason.split("; ", 1)[1]
            out.print(f"  {o.status:<10} {escape(o.slug or ''):<28} {escape(o.name or '')} — {escape(detail)}"
                      + (" (page text added)" if o.enriched else ""))
        for note in s.notes:
            out.print(f"  [yellow]note[/yellow]: {escape(note)}")
    c = report.counts()
    out.print(f"\nWould bring in: {c['new']} new, {c['changed']} changed, {c['pending']} pending, "
              f"{c['stale']} stale{_stale_note(c['stale'], settings)} "
              f"({c['unchanged']} unchanged) · {c['duplicate']} duplicate · {c['deferred']} deferred · "
              f"{c['rejected']} rejected. Nothing was reviewed or recorded.")


@app.command("ingest")
def ingest_command(
    sources: Annotated[Optional[list[str]], typer.Argument(
        help="Configured source names, directories/files of cards, feed or list files, feed or list URLs. "
             "Default: every configured source.")] = None,
    enrich: Annotated[bool, typer.Option("--enrich", help="Read the tool's page when an ad-hoc item's text is "
                                                          "short (configured sources use their `enrich`).")] = False,
    show_unchanged: Annotated[bool, typer.Option("--all", help="Also list unchanged tools.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show what the sources would bring in (new / changed / unchanged / rejected), without reviewing."""
    settings = _settings()
    try:
        specs = adhoc_sources(settings, sources) if sources else configured_sources(settings)
    except ConfigError as exc:
        fail(exc)
    if not specs:
        fail("no sources configured — add a [sources.NAME] table to toolpanel.toml, or name a directory, a file or "
             "a feed URL: toolpanel ingest https://example.com/feed.xml")
    if enrich:
        specs = [s.model_copy(update={"enrich": True}) if s.adhoc and s.kind != "cards" else s for s in specs]
    report = ingest(settings, specs, record=False, trigger="ingest")
    if as_json:
        dump(report.to_json())
    else:
        _print_report(report, show_unchanged, settings)
    if report.counts()["rejected"]:
        raise typer.Exit(1)


@app.command("sources")
def sources_command(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """The configured sources, with their last run (daily or review) and its counts."""
    settings = _settings()
    try:
        specs = configured_sources(settings)
    except ConfigError as exc:
        fail(exc)
    pol = settings.sources.politeness
    store = Warehouse(settings.warehouse_path)
    last = {r["source"]: r for r in store.source_status()} if settings.warehouse_path.exists() else {}
    if as_json:
        dump({"sources": [s.model_dump(mode="json") | {"last_run": last.get(s.name)} for s in specs],
              "politeness": pol.model_dump() | {"max_bytes": settings.limits.source_bytes, "user_agent": USER_AGENT}})
        return
    if not specs:
        out.print(escape("No sources configured — add a [sources.NAME] table to toolpanel.toml "
                         "(see docs/sources.md)."))
        return
    table = Table()
    table.add_column("source", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("location", overflow="fold")
    table.add_column("last run", no_wrap=True)
    table.add_column("result", overflow="fold")
    for s in specs:
        r = last.get(s.name)
        if r is None:
            when, result = "never", "—"
        else:
            when = f"{str(r['started_at'])[:16]} {r['trigger']}"
            counts = {"new": r["new_tools"], "changed": r["changed"], "pending": r["pending"],
                      "unchanged": r["unchanged"], "duplicate": r["duplicates"], "deferred": r["deferred"],
                      "rejected": r["rejected"]}
            plural = "s" if r["items"] != 1 else ""
            result = (f"{r['items']} item{plural}: {_counts_text(counts)}" if r["status"] == "ok"
                      else f"failed: {r['error']}")
        table.add_row(escape(s.name), s.kind + (" +enrich" if s.enrich else ""), escape(_where(s.location)), when,
                      escape(result))
    show(table)
    out.print(f"Politeness: timeout {pol.timeout:g} s, at most {settings.limits.source_bytes:,} bytes a response, "
              f"{pol.requests_per_host} requests per host per run, pages read below {pol.min_description} "
              f"characters (sources with enrich = true) · User-Agent: {USER_AGENT}")
