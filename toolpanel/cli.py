"""The `toolpanel` command: registers every command module on the shared app, and keeps the small ones
(history, compare, personas, publish, vote, serve). `toolpanel review` lives in cli_review.py."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from toolpanel import scorecard
from toolpanel.console import app, dump, err, fail, out
from toolpanel.console import personas as _personas
from toolpanel.console import settings as _settings
from toolpanel.errors import ExitCode
from toolpanel.models import panel_label
from toolpanel.views import UnknownTool, compare_views, tool_view
from warehouse import Warehouse

from toolpanel import cli_review  # noqa: E402,F401,I001  registers review first (the order of --help)


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
            fail(str(exc), ExitCode.REJECTED)
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
        fail(str(exc), ExitCode.REJECTED)
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
        table.add_row(p.id, p.name, p.version, ", ".join(settings.model_pool(p.id)), escape(textwrap.shorten(p.lens, 90, placeholder="…")))
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
        fail(str(exc), ExitCode.REJECTED)
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
        fail("give a tool slug and ship or skip, e.g. `toolpanel vote smolvlm2-turbo ship`, or --import votes.csv")
    e = votes.add_vote(store, slug, choice, voter)
    if e:
        fail(e)
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


# The other command modules register on the shared app after the small commands above.
from toolpanel import cli_ingest  # noqa: E402,F401  ingest, sources
from toolpanel import cli_why  # noqa: E402,F401  why
from toolpanel import cli_eval  # noqa: E402,F401  eval
from toolpanel import cli_queue  # noqa: E402,F401  queue, approve, reject
from toolpanel import cli_redteam  # noqa: E402,F401  redteam


if __name__ == "__main__":  # pragma: no cover
    app()
