"""`toolpanel why SLUG`: what changed between two verdicts of a tool, and why."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.markup import escape

from toolpanel.why import words
from toolpanel.why.rounds import RoundsChange, explain_rounds
from toolpanel.why.words import summary
from toolpanel.cli.console import app, dump, fail, out
from toolpanel.cli.console import settings as _settings
from toolpanel.errors import ToolpanelError
from toolpanel.models import Change, panel_label
from toolpanel.panel.personas import PersonaError, load_personas
from toolpanel.queue.views import held_note
from warehouse.store import Warehouse
from warehouse.changes import PUBLISHED, all_verdicts, explain_pairs, pick_pair, verdicts_of
from warehouse.rounds import verdict_rounds

ORDER = 70  # place in --help (toolpanel/cli/__init__.py)


@app.command("why")
def why_command(
    slug: Annotated[str, typer.Argument(help="Tool slug.")],
    from_ref: Annotated[Optional[str], typer.Option("--from", metavar="ID", help="Earlier run (or verdict) id. "
                                                    "Default: the published verdict before --to.")] = None,
    to_ref: Annotated[Optional[str], typer.Option("--to", metavar="ID", help="Later run (or verdict) id. "
                                                  "Default: the published verdict.")] = None,
    include_held: Annotated[bool, typer.Option("--include-held", help="Compare with the newest verdict held "
                                               "for an editor, if any (marked).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """What changed between the last two published verdicts of a tool (or any two), and why."""
    settings = _settings()
    try:
        personas = load_personas(settings.personas_dir)
    except PersonaError:
        personas = []  # names are only wording: `why` still works when the persona files are broken
    store = Warehouse(settings.warehouse_path)
    try:
        pair = pick_pair(store, slug, from_ref, to_ref, include_held=include_held)
    except ToolpanelError as exc:
        fail(exc)
    # a held verdict newer than the published one that this explanation leaves out
    shown = verdicts_of(store, slug, include_held=True)
    waiting = shown[-1] if shown and shown[-1]["decision"] == "held" else None
    if waiting and pair and waiting["verdict_id"] in (pair[0]["verdict_id"], pair[1]["verdict_id"]):
        waiting = None
    published = sum(r["decision"] in PUBLISHED for r in shown)
    hint = None
    if waiting:
        hint = (f"{'A newer verdict' if published else 'Its first verdict'} waits for an editor "
                f"({_held_text(waiting)})" + (f": toolpanel why {slug} --include-held" if published and not
                                              include_held else "."))
    rounds = _rounds(store, slug, personas)
    if pair is None:
        has = ("one published verdict" if published == 1 else "no published verdict" if all_verdicts(store, slug)
               else "no complete verdict")
        note = f"{slug} has {has} so far: nothing to compare yet."
        if as_json:
            dump({"slug": slug, "change": None, "summary": note, "waiting": _side(waiting) if waiting else None,
                  "rounds": rounds.model_dump() if rounds else None})
        else:
            out.print(escape(note))
            if hint:
                out.print(escape(hint))
            _print_rounds(rounds)
        return
    a, b = pair
    change = explain_pairs(store, [(a["verdict_id"], b["verdict_id"])], personas)[b["verdict_id"]]
    if as_json:
        dump({"slug": slug, "change": change.model_dump(mode="json"), "summary": summary(change),
              "from": _side(a), "to": _side(b), "waiting": _side(waiting) if waiting else None,
              "takes": [_delta_json(d) for d in change.takes], "rounds": rounds.model_dump() if rounds else None})
        return
    _print(change, a, b)
    if hint:
        out.print()
        out.print(escape(hint))
    _print_rounds(rounds)


def _rounds(store: Warehouse, slug: str, personas) -> RoundsChange | None:
    """Between the two rounds of the tool's newest verdict ([panel] rounds = 2); None for a one-round verdict."""
    newest = all_verdicts(store, slug)[-1:] if store.path.exists() else []
    if not newest:
        return None
    first, second = verdict_rounds(store, newest[0]["verdict_id"])
    order = [p.id for p in personas] or sorted({t.persona_id for t in first + second})
    return explain_rounds(newest[0]["verdict_id"], first, second, order, {p.id: p.name for p in personas})


def _print_rounds(r: RoundsChange | None) -> None:
    if r is None:
        return
    out.print(f"\n[bold]Between rounds[/bold] [dim](newest verdict · {r.verdict_id})[/dim]")
    out.print(escape(r.summary))
    for line in r.lines:
        out.print(f"  {escape(line)}")


def _held_text(row: dict) -> str:
    """'Skip · 2 ship / 3 skip, held: reasons'."""
    label = panel_label(row["verdict"], row["ship_count"], row["skip_count"])
    return f"{label}, held: {'; '.join(row['reasons'] or []) or 'no reason recorded'}"


def _side(row: dict) -> dict:
    """One side of the explanation: which verdict, and what became of it (held: why)."""
    return {"verdict_id": row["verdict_id"], "run_id": row["run_id"], "decision": row["decision"],
            "published": row["decision"] in PUBLISHED, "held": row["decision"] == "held",
            "held_reasons": list(row["reasons"] or []) if row["decision"] == "held" else []}


def _delta_json(d) -> dict:
    return {"persona_id": d.persona_id, "same_take": d.same_take, "carried": d.carried, "flipped": d.flipped,
            "score_delta": d.score_delta}


def _when(c: Change, which: str) -> str:
    at = getattr(c, f"{which}_at")
    return f"{at:%Y-%m-%d %H:%M}"


def _mark(row: dict) -> str | None:
    """How a side that is not published is marked (None: published)."""
    if row["decision"] == "held":
        return held_note(list(row["reasons"] or []))
    return None if row["decision"] in PUBLISHED else f"not published ({row['decision'] or 'no decision'})"


def _print(c: Change, a: dict, b: dict) -> None:
    out.rule(f"[bold]{escape(c.name)}[/bold] — what changed")
    trig = c.to_trigger + (f": {c.to_reason}" if c.to_reason else "") + (", forced" if c.forced else "")
    out.print(f"from  {escape(c.from_label)}  [dim]{_when(c, 'from')} · {c.from_run_id}[/dim]")
    if _mark(a):
        out.print(f"      [yellow]{escape(_mark(a))}[/yellow]")
    out.print(f"to    {escape(c.to_label)}  [dim]{_when(c, 'to')} · {c.to_run_id} · {escape(trig)}[/dim]")
    if _mark(b):
        out.print(f"      [yellow]{escape(_mark(b))}[/yellow]")
    out.print()
    out.print(f"[bold]{escape(summary(c))}[/bold]")
    out.print()
    for label, text in words.detail_lines(c):
        out.print(f"{label:<12} {escape(text)}")
    out.print("\n[bold]Takes[/bold]")
    for d in c.takes:
        b_, a_ = words.take_word(d.before, True), words.take_word(d.after, True)
        if d.same_take:
            note = "same take (carried, not asked again)" if d.carried else "same take (cached)"
        elif d.score_delta:
            note = f"{d.score_delta:+d}"
        else:
            note = ""
        out.print(f"  {escape(d.name):<10} {escape(b_):>12} → {escape(a_):<12} {note}".rstrip())

