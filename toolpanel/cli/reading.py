"""`toolpanel history`, `compare` and `personas`: the published verdicts and the panel, as the site shows them."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from scoring.band import row_label
from toolpanel import scorecard
from toolpanel.cli.console import app, dump, fail, out, show
from toolpanel.cli.console import personas as _personas
from toolpanel.cli.console import settings as _settings
from toolpanel.errors import ExitCode
from toolpanel.models import panel_label
from toolpanel.queue.views import HELD_MARK, PUBLISHED, UnknownTool, compare_views, held_note, tool_view
from warehouse.pairs import answer_for
from warehouse.store import Warehouse

ORDER = 20  # place in --help (toolpanel/cli/__init__.py)


def _outcome(row: dict, outcome: dict | None) -> str:
    """What became of a run's verdict: published, held (why), rejected, superseded, or no verdict."""
    if not row.get("verdict_id"):
        return "no verdict"
    decision = outcome and outcome["decision"]
    if decision in PUBLISHED:
        return "published"
    if decision == "held":
        return held_note(list(outcome["reasons"] or []))
    return decision or "no decision"


@app.command()
def history(slug: Annotated[str, typer.Argument(help="Tool slug.")],
            as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """Every review run of a tool, oldest first, with its verdict and what became of it (published, held for
    an editor and why, rejected, superseded)."""
    settings = _settings()
    store = Warehouse(settings.warehouse_path)
    rows = store.history(slug) if settings.warehouse_path.exists() else []
    if not rows:
        try:
            tool_view(store, slug)
        except UnknownTool as exc:
            fail(str(exc), ExitCode.REJECTED)
    outcomes = store.verdict_outcomes(slug) if rows else {}
    for r in rows:
        o = outcomes.get(r.get("verdict_id") or "")
        r["decision"] = o["decision"] if o and r.get("verdict_id") else None
        r["held_reasons"] = list(o["reasons"] or []) if o and r["decision"] == "held" else []
        r["outcome"] = _outcome(r, o)
        r["band"] = row_label(r)  # the confidence band's label (scoring/band.py); None without a complete verdict
    if as_json:
        dump({"slug": slug, "runs": rows})
        return
    table = Table(title=f"History of {slug}")
    for col in ("started", "trigger", "reason", "status", "verdict", "confidence", "decision", "ship %", "mean", "paid",
                "cached"):
        table.add_column(col)
    held: list[str] = []  # a held row's reasons go under the table (numbered), not into a wide column
    for r in rows:
        label = panel_label(r["verdict"], r["ship_count"], r["skip_count"]) if r.get("verdict") else "—"
        decision = r["outcome"]
        if r["decision"] == "held":
            held.append(r["outcome"])
            decision = f"held ({len(held)})"
        table.add_row(str(r["started_at"])[:19], r["trigger"], escape(r["reason"] or ""), r["status"], label,
                      escape(r["band"] or "—"), escape(decision),
                      "—" if r.get("ship_pct") is None else f"{round(r['ship_pct'])}%",
                      "—" if r.get("mean_score") is None else f"{r['mean_score']:g}",
                      str(r.get("paid_calls") if r.get("paid_calls") is not None else "—"),
                      str(r.get("cached_takes") if r.get("cached_takes") is not None else "—"))
    show(table)
    for i, note in enumerate(held, 1):
        out.print(f"({i}) {escape(note)}")
    if held:
        out.print(f"Publish or turn down: toolpanel approve {escape(slug)} --editor NAME (or reject); "
                  "see why: toolpanel queue")


def _held_note(v) -> str | None:
    """What `compare` says about a tool's held verdict (None: nothing of it is held)."""
    from toolpanel.publish.render import AWAITING  # the site's wording (imported late: jinja2)

    name = v.tool.name
    if v.held:
        shown = f"published: {v.published.label}" if v.published else "nothing published yet"
        return f"{name}: the verdict shown is {held_note(v.held_reasons)} ({shown})."
    if v.waiting is None:
        return None
    w = v.waiting
    held = f"{panel_label(w['verdict'], w['ship_count'], w['skip_count'])}, is {held_note(list(w['reasons'] or []))}"
    if v.verdict is None:
        return f"{name}: {AWAITING.lower()} — its verdict, {held}."
    return f"{name}: a newer verdict, {held}; shown: the published verdict."


@app.command()
def compare(slug_a: str, slug_b: str,
            include_held: Annotated[bool, typer.Option(
                "--include-held", help="Compare the newest verdicts held for an editor too (marked).")] = False,
            as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """A vs B — which one should you ship with? (published verdicts, as the site shows them)"""
    settings = _settings()
    personas = _personas(settings)
    store = Warehouse(settings.warehouse_path)
    minutes = settings.flows.stale_run_minutes
    try:
        a, b = (tool_view(store, s, include_held=include_held, stale_run_minutes=minutes) for s in (slug_a, slug_b))
    except UnknownTool as exc:
        fail(str(exc), ExitCode.REJECTED)
    cmp = compare_views(a, b, personas)
    if as_json:
        said = cmp and pair_answer(store, a, b)
        dump({"a": _view_json(a), "b": _view_json(b), "include_held": include_held,
              "comparison": cmp.model_dump(mode="json", exclude={"a", "b"}) if cmp else None,
              "answer": said.answer.model_dump(mode="json") if said else None})
        return
    out.rule(f"[bold]{escape(a.tool.name)} vs {escape(b.tool.name)}[/bold]")
    out.print("Which one should you ship with?")
    table = Table(show_lines=True)
    table.add_column("Decision")
    table.add_column(escape(a.tool.name))
    table.add_column(escape(b.tool.name))

    def shown(v) -> str:
        return scorecard.verdict_label(v.verdict) + (f"\n({HELD_MARK})" if v.held else "")
    rows = [("Panel verdict", shown(a), shown(b)),
            ("Confidence", a.band or "—", b.band or "—"),
            ("Panel ship", scorecard.ship_pct_label(a.verdict), scorecard.ship_pct_label(b.verdict)),
            ("Pricing", a.tool.pricing or "—", b.tool.pricing or "—"),
            ("Entry", a.tool.entry or "—", b.tool.entry or "—"),
            ("Best for", a.tool.tagline or "—", b.tool.tagline or "—"),
            ("Category", a.tool.category or "—", b.tool.category or "—")]
    for row in rows:
        table.add_row(*(escape(c) for c in row))
    show(table)
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
    show(sc)
    if cmp is None:
        missing = [v.tool.name for v in (a, b) if v.verdict is None]
        which = "complete" if include_held else "published"
        out.print(f"[yellow]No decision: {escape(', '.join(missing))} has no {which} panel verdict yet.[/yellow]")
    else:
        pick = {"a": a.tool.name, "b": b.tool.name}.get(cmp.pick, "Neither" if cmp.pick == "neither" else "Tie")
        out.print(f"[bold]Ship with: {escape(pick)}[/bold] — {escape(cmp.reason)}")
        said = pair_answer(store, a, b)  # the comparison's own answer (toolpanel/panel/pairs.py)
        if said is not None:
            tools = {a.tool.slug: a.tool.name, b.tool.slug: b.tool.name}
            out.print(f"The panel's answer: {escape(scorecard.point_line(said.answer.answer, personas, tools))}",
                      soft_wrap=False)
            if said.answer.instead:
                out.print(f"When to choose the other: "
                          f"{escape(scorecard.point_line(said.answer.instead, personas, tools))}", soft_wrap=False)
        for v in (a, b):  # each panel's own answer, from its summary (toolpanel/panel/chair.py)
            said = scorecard.point_line(v.summary.answer, personas) if v.summary else scorecard.NO_SUMMARY
            out.print(f"{escape(v.tool.name)}'s panel: {escape(said)}", soft_wrap=False)  # wrapped, never cut
    notes = [n for n in (_held_note(a), _held_note(b)) if n]
    for n in notes:
        out.print(f"[yellow]{escape(n)}[/yellow]")
    if a.held or b.held:
        out.print("[yellow]Held verdicts are not published: this answer may change when an editor decides.[/yellow]")
    elif notes:
        out.print(f"Include the held verdicts: toolpanel compare {escape(slug_a)} {escape(slug_b)} --include-held")


def pair_answer(store: Warehouse, a, b):
    """The chair's answer about the two shown verdicts (a PairRecord), or None."""
    if not (a.verdict_id and b.verdict_id and store.path.exists()):
        return None
    with store.connect() as con:
        return answer_for(con, a.verdict_id, b.verdict_id)


def _view_json(v) -> dict:
    w = v.waiting
    return {"tool": v.tool.model_dump(mode="json"),
            "verdict": (v.verdict.model_dump() | {"label": v.verdict.label}) if v.verdict else None,
            # what became of the shown verdict (approved | auto | held); held: waits for an editor, and why
            "decision": v.decision, "held": v.held, "held_reasons": v.held_reasons,
            "published": v.published.label if v.published else None,
            # the newest held verdict newer than the published one, shown or not
            "waiting": {"verdict_id": w["verdict_id"], "label": panel_label(w["verdict"], w["ship_count"],
                                                                           w["skip_count"]),
                        "ship_pct": w["ship_pct"], "reasons": list(w["reasons"] or []),
                        "created_at": w["created_at"]} if w else None,
            "takes": [t.model_dump(mode="json") for t in v.takes],
            "band": v.band, "summary": v.summary.model_dump(mode="json") if v.summary else None,
            "reviewed_at": v.reviewed_at, "review_in_progress": v.in_progress}


@app.command()
def personas(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
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
        table.add_row(p.id, p.name, p.version, ", ".join(settings.model_pool(p.id)), escape(" ".join(p.lens.split())))
    show(table)
