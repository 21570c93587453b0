"""`toolpanel review`: run the panel over cards, feeds and sources; print each scorecard."""

from __future__ import annotations

import textwrap
import time
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from scoring import rules
from toolpanel import scorecard
from toolpanel.panel.budget import BudgetStopped
from toolpanel.errors import ConfigError
from toolpanel.config import Settings
from toolpanel.cli.console import app, dump, err, fail, out
from toolpanel.cli.console import personas as _personas
from toolpanel.cli.console import settings as _settings
from toolpanel.errors import ExitCode
from toolpanel.panel.summary import RunSummary
from toolpanel.queue.views import order_takes
from warehouse.connection import WarehouseBusy

ORDER = 10  # place in --help (toolpanel/cli/__init__.py)


@app.command()
def review(
    paths: Annotated[list[str], typer.Argument(help="Card files or directories; feed/list files or URLs "
                                                  "(RSS, Atom, JSON Feed, CSV, JSON); configured source names.")],
    force: Annotated[bool, typer.Option("--force", help="Re-review even when identical takes are cached.")] = False,
    persona: Annotated[Optional[list[str]], typer.Option(
        "--persona", "-p", metavar="ID", help="Only these personas (repeat).")] = None,
    model: Annotated[Optional[str], typer.Option(
        metavar="NAME", help="Model for every persona (overrides config).")] = None,
    reason: Annotated[Optional[str], typer.Option(help="Why this review was run (recorded on the run).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    exceed_daily_budget: Annotated[bool, typer.Option(
        "--exceed-daily-budget", help="Ignore [budget] per_day caps for this run (per_run caps still hold).")] = False,
) -> None:
    """Review tool cards with the panel; print each scorecard; store everything in the warehouse."""
    from toolpanel.panel.local_model import DEMO_NOTICE, LocalModelError
    from toolpanel.panel.batch import run_review
    from toolpanel.publish.answers import answer_pairs, pair_answers_line

    settings = _settings()
    _personas(settings, persona)  # an unknown --persona fails here, by name
    personas = _personas(settings)  # the whole panel: a partial review carries the others' current takes
    from toolpanel.ingest.run import review_sources  # cards exactly as before, plus feeds and launch lists
    try:
        tools, errors = review_sources(settings, paths)
    except ConfigError as exc:
        fail(exc)
    for e in errors:
        err.print(f"[red]rejected[/red] {escape(str(e))}")
    if not tools:
        fail("no valid cards to review", ExitCode.REJECTED)
    if settings.uses_local_model and not as_json:
        err.print(f"[yellow]note:[/yellow] {DEMO_NOTICE}")

    from toolpanel.panel import local_model
    from warehouse import connection

    connection.lock_notice = _lock_notice(settings)
    if not as_json:
        local_model.status = lambda line: err.print(escape(line), highlight=False)
    progress = Progress(TextColumn("[bold]reviewing[/bold]"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.description}"), TimeElapsedColumn(), console=err,
                        disable=as_json or not err.is_terminal)
    failures: list[str] = []
    busy: list[str] = []  # tools a held warehouse kept from being reviewed: said once, in the last line
    lines = not as_json and not err.is_terminal
    finished: list[str] = []
    started = time.monotonic()
    with progress:
        task = progress.add_task("", total=len(tools))

        def done(res, tool) -> None:
            if isinstance(res, WarehouseBusy):
                busy.append(tool.slug)
            elif isinstance(res, BaseException) and not isinstance(res, BudgetStopped):  # said by the summary
                failures.append(f"{tool.slug}: {res.__class__.__name__}: {res}")
            progress.update(task, advance=1, description=tool.slug)
            if lines:  # no bar without a terminal (make demo, CI logs): one line per finished tool
                finished.append(tool.slug)
                what = (res.verdict.label if not isinstance(res, BaseException)
                        else "pending (budget)" if isinstance(res, BudgetStopped) else "failed")
                err.print(f"reviewed {len(finished)}/{len(tools)} {escape(tool.slug)}: {escape(what)} "
                          f"({time.monotonic() - started:.0f} s)", highlight=False)

        try:
            batch = run_review(settings, personas, tools, trigger="cli", reason=reason, force=force,
                               model_override=model, on_done=done, exceed_daily_budget=exceed_daily_budget,
                               only=persona, after=answer_pairs)
        except LocalModelError as exc:
            fail(str(exc), ExitCode.CONFIG)

    ok = [r for r in batch.results if not isinstance(r, BaseException)]
    summary = RunSummary.of(batch.results, rejected=len(errors), slugs=[t.slug for t in tools],
                            **batch.summary_fields)  # one record per tool: each block and the summary line
    if as_json:
        dump({"reviews": [_result_json(r) for r in ok],
               "rejected": [{"path": e.path, "field": e.field, "problem": e.problem, "fix": e.fix} for e in errors],
               "failed": failures, "notes": batch.notes, "summary": summary.model_dump(),
               "comparison_answers": [{"pair": list(p.slugs), "status": p.status, "error": p.error}
                                      for p in batch.pair_answers]})
    else:
        for r in ok:
            _print_scorecard(r.tool, r.verdict, r.takes, personas, r, summary.counts(r.tool.slug))
        out.print(f"\n[bold]{escape(summary.line())}[/bold]")
        if batch.pair_answers:
            out.print(escape(pair_answers_line(batch.pair_answers)))
        out.print(f"warehouse: {settings.warehouse_path}   analyst snapshot: {settings.snapshot_path}")
        _print_held(ok, summary)
    for note in batch.notes:
        err.print(f"[yellow]note:[/yellow] {escape(note)}")
    for f in failures:
        err.print(f"[red]failed[/red] {escape(f)}")
    if summary.warehouse_busy:
        fail(_busy_line(settings, batch, len(busy)), summary.exit_code)
    if summary.exit_code:
        raise typer.Exit(int(summary.exit_code))


def _lock_notice(settings: Settings):
    def notice(path, pid, wait) -> None:
        who = f"another process (PID {pid})" if pid else "another process"
        err.print(f"[yellow]note:[/yellow] {escape(str(path))} is held by {who}; waiting up to {wait:g} s. "
                  f"Analysts: read the snapshot {escape(str(settings.snapshot_path))}, never the warehouse.")
    return notice


def _busy_line(settings: Settings, batch, not_reviewed: int) -> str:
    pid = batch.busy.holder_pid if batch.busy is not None else None
    who = f"another process (PID {pid})" if pid else "another process"
    saved = (f"{batch.journaled_takes} paid take{'s' if batch.journaled_takes != 1 else ''} saved in {batch.journal}; "
             "the next toolpanel command that writes stores them without paying again"
             if batch.journal else "nothing paid was lost")
    skipped = f"; {not_reviewed} tool{'s' if not_reviewed != 1 else ''} not reviewed" if not_reviewed else ""
    return (f"the warehouse {settings.warehouse_path} was held by {who} for longer than the lock wait: "
            f"{saved}{skipped} — let that process finish (analysts read {settings.snapshot_path}), then run again")


def _print_held(results, summary: RunSummary) -> None:
    """One line per held verdict: why it waits and how to publish it (held as the summary counts it)."""
    from toolpanel.queue.held import APPROVE_HINT

    held = [r for r in results if (c := summary.counts(r.tool.slug)) is not None and c.held]
    if held:
        out.print(f"[yellow]{len(held)} held[/yellow] for an editor (not on the site until approved; toolpanel queue):")
    for r in held:
        out.print(f"[yellow]held[/yellow] {escape(r.tool.slug)}: {escape('; '.join(r.held))} — "
                  f"{APPROVE_HINT.format(slug=escape(r.tool.slug))}")
    for r in results:  # incomplete verdicts are never published; say why they look suspicious all the same
        if (c := summary.counts(r.tool.slug)) is not None and c.flagged:
            out.print(f"[yellow]flagged[/yellow] {escape(r.tool.slug)}: {escape('; '.join(r.held))} — no verdict "
                      "was published (incomplete); the site keeps the last complete one")


def _result_json(r) -> dict:
    return {"slug": r.tool.slug, "name": r.tool.name, "run_id": r.run_id, "paid_calls": r.paid_calls, "held": r.held,
            "cached_takes": r.cached_takes, "verdict": r.verdict.model_dump() | {"label": r.verdict.label},
            "band": scorecard.band_label(r.verdict, r.takes) if r.verdict.quorum_met else None,
            "summary": r.summary.model_dump(mode="json") if r.summary else None,
            "takes": [t.model_dump(mode="json") for t in r.takes]}


def _print_scorecard(tool, verdict, takes, personas, result=None, counts=None) -> None:
    """A tool's block; its last line is `counts`, the record the summary adds up (toolpanel.panel.summary)."""
    out.rule(f"[bold]{escape(tool.name)}[/bold]")
    facts = [tool.category, tool.pricing and f"Pricing: {tool.pricing}", tool.entry and f"Entry: {tool.entry}"]
    if tool.tagline:
        out.print(f"Best for: {escape(tool.tagline)}")
    out.print(" · ".join(escape(f) for f in facts if f))
    style = {"ship": "green", "skip": "red"}.get(verdict.verdict if verdict else "", "yellow")
    out.print(f"[bold {style}]{escape(scorecard.verdict_label(verdict))}[/bold {style}]    "
              f"Panel ship {scorecard.ship_pct_label(verdict)}"
              + (f"    mean {verdict.mean_score:g}" if verdict and verdict.mean_score is not None else "")
              + ("    [yellow]split panel[/yellow]" if verdict and verdict.split_panel else ""))
    if verdict and verdict.quorum_met:
        out.print(f"Confidence: {escape(scorecard.band_label(verdict, takes))}")
    if result is not None and result.summary is not None:
        _print_summary(result.summary, personas)
    if verdict and not verdict.quorum_met:
        out.print(f"[yellow]incomplete: {escape(rules.shortfall(verdict))}[/yellow]")
    out.print("\n[bold]Reviewer scorecard[/bold]")
    carried = {c.take_id: c.from_run_id for c in verdict.carried} if verdict else {}
    for t in order_takes(takes, personas):
        name = scorecard.persona_name(t.persona_id, personas)
        label = scorecard.take_label(t)
        plain = label[: len(label) - len(scorecard.flag_suffix(t))] if t.status == "ok" else label
        origin = carried.get(t.take_id)
        out.print(f"[bold]{escape(name)}[/bold]  {escape(plain)}"
                  + (f"[yellow]{escape(label[len(plain):])}[/yellow]" if label != plain else "")
                  + (f"  [dim]carried from run {origin} (not asked again)[/dim]" if origin else ""))
        if t.status == "ok" and t.paragraph:
            out.print(f"  {escape(t.paragraph)}")
            for q in scorecard.shown_quotes(t.evidence):
                out.print(f"  [dim]“{escape(q)}”[/dim]")
        elif t.status == "failed":
            out.print(f"  [red]{escape(t.error or '')}[/red]")
    if result is not None and (result.findings or result.held):
        _print_findings(result, counts)
    if counts is not None:
        out.print(f"[dim]{escape(counts.line())}" + ("" if result is None or result.run_id
                                                       else " · unchanged: no new run") + "[/dim]")


def _print_summary(record, personas) -> None:
    """The chair's panel summary (toolpanel/panel/chair.py), or why there is none."""
    out.print("\n[bold]Panel summary[/bold]")
    if record.summary is None:
        out.print(f"[yellow]{escape(scorecard.NO_SUMMARY)}[/yellow] [dim]{escape(record.error or '')}[/dim]")
    for head, line in scorecard.summary_lines(record.summary, personas) if record.summary else []:
        out.print(f"[bold]{escape(head)}:[/bold] {escape(line)}")


def _print_findings(result, counts=None) -> None:
    """Issue 13: what screening, the differential review and the take checks found, and the hold."""
    from toolpanel.screening.rules import screening_findings

    for f in screening_findings(result.findings):
        out.print(f"[yellow]screening[/yellow] {escape(f.field)}: \"{escape(textwrap.shorten(f.span, 160, placeholder='…'))}\" "
                  f"({escape(f.rule)}{', review only' if f.severity == 'warn' else ''})")
    for f in result.findings:
        if f.rule.startswith(("steered", "take.")):
            out.print(f"[yellow]{escape(f.rule)}[/yellow] {escape(f.field)}: {escape(f.span)}")
    if result.differential_calls:
        out.print(f"[dim]differential review of the neutralised copy: {result.differential_calls} extra calls[/dim]")
    word = "held" if counts is None or counts.held else "flagged"  # held only when a hold decision exists
    for reason in result.held:
        out.print(f"[yellow]{word}[/yellow] {escape(result.tool.slug)}: {escape(reason)}")
