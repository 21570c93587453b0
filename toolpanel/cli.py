"""The `toolpanel` command: review, history, compare, personas."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from toolpanel import scorecard
from toolpanel.budget import BudgetStopped
from toolpanel.config import ConfigError, Settings
from toolpanel.console import app, dump, err, fail, out
from toolpanel.console import settings as _settings
from toolpanel.models import Persona, panel_label
from toolpanel.personas import PersonaError, load_personas
from toolpanel.summary import RunSummary
from toolpanel.views import UnknownTool, compare_views, order_takes, tool_view
from warehouse import Warehouse
from warehouse.store import WarehouseBusy

def _personas(settings: Settings, only: list[str] | None = None) -> list[Persona]:
    try:
        return load_personas(settings.personas_dir, only)
    except PersonaError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None


@app.command()
def review(
    paths: Annotated[list[str], typer.Argument(help="Card files or directories; feed/list files or URLs "
                                                  "(RSS, Atom, JSON Feed, CSV, JSON); configured source names.")],
    force: Annotated[bool, typer.Option("--force", help="Re-review even when identical takes are cached.")] = False,
    persona: Annotated[Optional[list[str]], typer.Option("--persona", "-p", help="Only these personas (repeat).")] = None,
    model: Annotated[Optional[str], typer.Option(help="Model for every persona (overrides config).")] = None,
    reason: Annotated[Optional[str], typer.Option(help="Why this review was run (recorded on the run).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    exceed_daily_budget: Annotated[bool, typer.Option(
        "--exceed-daily-budget", help="Ignore [budget] per_day caps for this run (per_run caps still hold).")] = False,
) -> None:
    """Review tool cards with the panel; print each scorecard; store everything in the warehouse."""
    from toolpanel.local_model import DEMO_NOTICE, LocalModelError
    from toolpanel.runner import run_review

    settings = _settings()
    personas = _personas(settings, persona)
    from toolpanel.ingest import review_sources  # cards exactly as before, plus feeds and launch lists
    try:
        tools, errors = review_sources(settings, paths)
    except ConfigError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    for e in errors:
        err.print(f"[red]rejected[/red] {escape(str(e))}")
    if not tools:
        err.print("[red]error:[/red] no valid cards to review")
        raise typer.Exit(1)
    if settings.uses_local_model and not as_json:
        err.print(f"[yellow]note:[/yellow] {DEMO_NOTICE}")

    from toolpanel import local_model
    from warehouse import store as warehouse_store

    warehouse_store.lock_notice = _lock_notice(settings)
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
                               model_override=model, on_done=done, exceed_daily_budget=exceed_daily_budget)
        except LocalModelError as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}")
            raise typer.Exit(2) from None

    ok = [r for r in batch.results if not isinstance(r, BaseException)]
    summary = RunSummary.of(batch.results, rejected=len(errors), **batch.summary_fields)
    if as_json:
        dump({"reviews": [_result_json(r) for r in ok],
               "rejected": [{"path": e.path, "field": e.field, "problem": e.problem, "fix": e.fix} for e in errors],
               "failed": failures, "notes": batch.notes, "summary": summary.model_dump()})
    else:
        for r in ok:
            _print_scorecard(r.tool, r.verdict, r.takes, personas, r)
        out.print(f"\n[bold]{escape(summary.line())}[/bold]")
        out.print(f"warehouse: {settings.warehouse_path}   analyst snapshot: {settings.snapshot_path}")
        _print_held(ok)
    for note in batch.notes:
        err.print(f"[yellow]note:[/yellow] {escape(note)}")
    for f in failures:
        err.print(f"[red]failed[/red] {escape(f)}")
    if summary.warehouse_busy:
        err.print(f"[red]error:[/red] {escape(_busy_line(settings, batch, len(busy)))}")
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


def _print_held(results) -> None:
    """One line per held verdict: why it waits and how to publish it."""
    from toolpanel.queue import APPROVE_HINT

    held = [r for r in results if r.held and r.verdict.quorum_met]
    if held:
        out.print(f"[yellow]{len(held)} held[/yellow] for an editor (not on the site until approved; toolpanel queue):")
    for r in held:
        out.print(f"[yellow]held[/yellow] {escape(r.tool.slug)}: {escape('; '.join(r.held))} — "
                  f"{APPROVE_HINT.format(slug=escape(r.tool.slug))}")
    for r in results:  # incomplete verdicts are never published; say why they look suspicious all the same
        if r.held and not r.verdict.quorum_met:
            out.print(f"[yellow]flagged[/yellow] {escape(r.tool.slug)}: {escape('; '.join(r.held))} — no verdict "
                      "was published (incomplete); the site keeps the last complete one")


def _result_json(r) -> dict:
    return {"slug": r.tool.slug, "name": r.tool.name, "run_id": r.run_id, "paid_calls": r.paid_calls, "held": r.held,
            "cached_takes": r.cached_takes, "verdict": r.verdict.model_dump() | {"label": r.verdict.label},
            "takes": [t.model_dump(mode="json") for t in r.takes]}


def _print_scorecard(tool, verdict, takes, personas, result=None) -> None:
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
    if verdict and not verdict.quorum_met:
        out.print(f"[yellow]incomplete: fewer than 3 personas gave a take "
                  f"({verdict.failed_count} failed, {verdict.abstain_count} abstained)[/yellow]")
    out.print("\n[bold]Reviewer scorecard[/bold]")
    for t in order_takes(takes, personas):
        name = scorecard.persona_name(t.persona_id, personas)
        label = scorecard.take_label(t)
        plain = label[: len(label) - len(scorecard.flag_suffix(t))] if t.status == "ok" else label
        out.print(f"[bold]{escape(name)}[/bold]  {escape(plain)}"
                  + (f"[yellow]{escape(label[len(plain):])}[/yellow]" if label != plain else ""))
        if t.status == "ok" and t.paragraph:
            out.print(f"  {escape(t.paragraph)}")
            for q in t.evidence:
                out.print(f"  [dim]“{escape(q)}”[/dim]")
        elif t.status == "failed":
            out.print(f"  [red]{escape(t.error or '')}[/red]")
    if result is not None and (result.findings or result.held):
        _print_findings(result)
    if result is not None:
        out.print(f"[dim]{result.paid_calls} paid, {result.cached_takes} cached"
                  + ("" if result.run_id else " · unchanged: no new run") + "[/dim]")


def _print_findings(result) -> None:
    """Issue 13: what screening, the differential review and the take checks found, and the hold."""
    from toolpanel.screening import screening_findings

    for f in screening_findings(result.findings):
        out.print(f"[yellow]screening[/yellow] {escape(f.field)}: \"{escape(' '.join(f.span.split())[:160])}\" "
                  f"({escape(f.rule)}{', review only' if f.severity == 'warn' else ''})")
    for f in result.findings:
        if f.rule.startswith(("steered", "take.")):
            out.print(f"[yellow]{escape(f.rule)}[/yellow] {escape(f.field)}: {escape(f.span)}")
    if result.differential_calls:
        out.print(f"[dim]differential review of the neutralised copy: {result.differential_calls} extra calls[/dim]")
    for reason in result.held:
        out.print(f"[yellow]held[/yellow] {escape(result.tool.slug)}: {escape(reason)}")


@app.command()
def history(slug: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every review run of a tool, oldest first, with its verdict."""
    settings = _settings()
    store = Warehouse(settings.warehouse_path)
    rows = store.history(slug) if settings.warehouse_path.exists() else []
    if not rows:
        try:
            tool_view(store, slug)
        except UnknownTool as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}")
            raise typer.Exit(1) from None
    if as_json:
        dump({"slug": slug, "runs": rows})
        return
    table = Table(title=f"History of {slug}")
    for col in ("started", "trigger", "reason", "status", "verdict", "ship %", "mean", "paid", "cached"):
        table.add_column(col)
    for r in rows:
        label = panel_label(r["verdict"], r["ship_count"], r["skip_count"]) if r.get("verdict") else "—"
        table.add_row(str(r["started_at"])[:19], r["trigger"], escape(r["reason"] or ""), r["status"], label,
                      "—" if r.get("ship_pct") is None else f"{round(r['ship_pct'])}%",
                      "—" if r.get("mean_score") is None else f"{r['mean_score']:g}",
                      str(r.get("paid_calls") if r.get("paid_calls") is not None else "—"),
                      str(r.get("cached_takes") if r.get("cached_takes") is not None else "—"))
    out.print(table)


@app.command()
def compare(slug_a: str, slug_b: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """A vs B — which one should you ship with?"""
    settings = _settings()
    personas = _personas(settings)
    store = Warehouse(settings.warehouse_path)
    try:
        a, b = tool_view(store, slug_a), tool_view(store, slug_b)
    except UnknownTool as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    cmp = compare_views(a, b, personas)
    if as_json:
        dump({"a": _view_json(a), "b": _view_json(b),
               "comparison": cmp.model_dump(mode="json", exclude={"a", "b"}) if cmp else None})
        return
    out.rule(f"[bold]{escape(a.tool.name)} vs {escape(b.tool.name)}[/bold]")
    out.print("Which one should you ship with?")
    table = Table(show_lines=True)
    table.add_column("Decision")
    table.add_column(escape(a.tool.name))
    table.add_column(escape(b.tool.name))
    rows = [("Panel verdict", scorecard.verdict_label(a.verdict), scorecard.verdict_label(b.verdict)),
            ("Panel ship", scorecard.ship_pct_label(a.verdict), scorecard.ship_pct_label(b.verdict)),
            ("Pricing", a.tool.pricing or "—", b.tool.pricing or "—"),
            ("Entry", a.tool.entry or "—", b.tool.entry or "—"),
            ("Best for", a.tool.tagline or "—", b.tool.tagline or "—"),
            ("Category", a.tool.category or "—", b.tool.category or "—")]
    for row in rows:
        table.add_row(*(escape(c) for c in row))
    out.print(table)
    out.print("[bold]Reviewer scorecard[/bold]")
    sc = Table(show_lines=True)
    sc.add_column("Persona")
    sc.add_column(escape(a.tool.name))
    sc.add_column(escape(b.tool.name))
    by_a = {t.persona_id: t for t in a.takes}
    by_b = {t.persona_id: t for t in b.takes}
    for p in personas:
        cells = []
        for t in (by_a.get(p.id), by_b.get(p.id)):
            label = scorecard.take_label(t)
            body = t.paragraph if t and t.status == "ok" and t.paragraph else ""
            cells.append(escape(label + ("\n" + body if body else "")))
        sc.add_row(escape(p.name), *cells)
    out.print(sc)
    if cmp is None:
        missing = [v.tool.name for v in (a, b) if v.verdict is None]
        out.print(f"[yellow]No decision: {escape(', '.join(missing))} has no complete panel verdict yet.[/yellow]")
    else:
        pick = {"a": a.tool.name, "b": b.tool.name}.get(cmp.pick, "Neither" if cmp.pick == "neither" else "Tie")
        out.print(f"[bold]Ship with: {escape(pick)}[/bold] — {escape(cmp.reason)}")


def _view_json(v) -> dict:
    return {"tool": v.tool.model_dump(mode="json"),
            "verdict": (v.verdict.model_dump() | {"label": v.verdict.label}) if v.verdict else None,
            "takes": [t.model_dump(mode="json") for t in v.takes],
            "reviewed_at": v.reviewed_at, "review_in_progress": v.in_progress}


@app.command()
def personas(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The panel: each persona's lens and version (content hash of its file)."""
    settings = _settings()
    ps = _personas(settings)
    if as_json:
        dump([p.model_dump() for p in ps])
        return
    table = Table()
    for col in ("id", "name", "version", "model", "lens"):
        table.add_column(col)
    for p in ps:
        table.add_row(p.id, p.name, p.version, ", ".join(settings.model_pool(p.id)), escape(p.lens[:90] + "…"))
    out.print(table)


@app.command()
def publish(
    full: Annotated[bool, typer.Option("--full", help="Rewrite every page, not only changed ones.")] = False,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Write the site here instead of TOOLPANEL_HOME/site.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Render the static site (tool pages, A vs B comparisons, index, personas, feeds, digest)."""
    from toolpanel.publish import PublishError, publish_site

    settings = _settings()
    try:
        report = publish_site(settings, full=full, out=out_dir)
    except PublishError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    for w in report["warnings"]:
        err.print(f"[yellow]warning:[/yellow] {escape(w)}")
    if as_json:
        dump(report)
        return
    out.print(f"published {report['pages']} pages to {report['site']}: {report['written']} written, "
              f"{report['skipped']} unchanged, {report['removed']} removed")
    out.print(f"open {Path(report['site']) / 'index.html'}")
    if report["awaiting_editor"]:
        n = len(report["awaiting_editor"])
        out.print(f"[yellow]{n} tool{'s' if n != 1 else ''} wait{'' if n != 1 else 's'} for an editor[/yellow] "
                  "(the site shows their published verdict, or \"awaiting editor check\"): see why with "
                  "toolpanel queue; publish with toolpanel approve SLUG --editor NAME")


@app.command()
def vote(
    slug: Annotated[Optional[str], typer.Argument(help="Tool slug.")] = None,
    choice: Annotated[Optional[str], typer.Argument(metavar="ship|skip")] = None,
    voter: Annotated[Optional[str], typer.Option(help="Who voted (optional).")] = None,
    import_csv: Annotated[Optional[Path], typer.Option("--import", help="CSV with columns slug,vote[,voter].")] = None,
) -> None:
    """Record a community vote (shown beside the panel on the site), or import a CSV of votes."""
    from toolpanel import votes

    settings = _settings()
    store = Warehouse(settings.warehouse_path)
    if import_csv:
        n, errors = votes.import_csv(store, import_csv)
        for e in errors:
            err.print(f"[red]rejected[/red] {escape(str(e))}")
        out.print(f"imported {n} vote{'s' if n != 1 else ''}, rejected {len(errors)}")
        raise typer.Exit(1 if errors else 0)
    if not slug or not choice:
        err.print("[red]error:[/red] give a tool slug and ship or skip, e.g. `toolpanel vote smolvlm2-turbo ship`, "
                  "or --import votes.csv")
        raise typer.Exit(2)
    e = votes.add_vote(store, slug, choice, voter)
    if e:
        err.print(f"[red]error:[/red] {escape(str(e))}")
        raise typer.Exit(1)
    tally = store.query("SELECT * FROM community_tally WHERE slug = ?", [slug])[0]
    out.print(f"{slug}: {tally['ship_votes']} ship / {tally['skip_votes']} skip "
              f"({round(tally['ship_pct'])}% ship, {tally['votes']} vote{'s' if tally['votes'] != 1 else ''})")


@app.command()
def serve() -> None:
    """Serve the Prefect deployments (daily-review on its schedule, re-review for editors) and the UI.

    Starts a local Prefect server (under TOOLPANEL_HOME/prefect) on `[serve] port`, else on the first
    free port from 4200, remembered in TOOLPANEL_HOME/serve.json; unless PREFECT_API_URL is set.
    """
    from flows.serve import ServeError
    from flows.serve import serve as run_serve

    settings = _settings()
    try:
        run_serve(settings, echo=lambda m: out.print(escape(m)))
    except ServeError as exc:
        fail(exc)
    except KeyboardInterrupt:
        err.print("stopped")


from toolpanel import cli_ingest  # noqa: E402,F401  (registers ingest/sources on the shared app)
from toolpanel import cli_why  # noqa: E402,F401  (registers why)
from toolpanel import cli_eval  # noqa: E402,F401  (registers eval on the shared app)
from toolpanel import cli_queue  # noqa: E402,F401  (registers queue/approve/reject on the shared app)
from toolpanel import cli_redteam  # noqa: E402,F401  (registers redteam)


if __name__ == "__main__":  # pragma: no cover
    app()
