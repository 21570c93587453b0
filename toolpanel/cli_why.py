"""`toolpanel why SLUG`: what changed between two verdicts of a tool, and why."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.markup import escape

from toolpanel import changes
from toolpanel.console import app, dump, fail, out
from toolpanel.console import settings as _settings
from toolpanel.errors import ToolpanelError
from toolpanel.models import Change
from toolpanel.personas import PersonaError, load_personas
from warehouse import Warehouse
from warehouse.changes import explain, verdicts_of


@app.command("why")
def why_command(
    slug: Annotated[str, typer.Argument(help="Tool slug.")],
    from_ref: Annotated[Optional[str], typer.Option("--from", help="Earlier run (or verdict) id. "
                                                    "Default: the verdict before --to.")] = None,
    to_ref: Annotated[Optional[str], typer.Option("--to", help="Later run (or verdict) id. "
                                                  "Default: the newest verdict.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """What changed between two verdicts of a tool (default the last two), and why."""
    settings = _settings()
    try:
        personas = load_personas(settings.personas_dir)
    except PersonaError:
        personas = []  # names are only wording: `why` still works when the persona files are broken
    store = Warehouse(settings.warehouse_path)
    try:
        change = explain(store, slug, from_ref, to_ref, personas)
    except ToolpanelError as exc:
        fail(exc)
    if change is None:
        count = len(verdicts_of(store, slug))
        note = (f"{slug} has {'one verdict' if count == 1 else 'no complete verdict'} so far: nothing to compare yet.")
        if as_json:
            dump({"slug": slug, "change": None, "summary": note})
        else:
            out.print(escape(note))
        return
    if as_json:
        dump({"slug": slug, "change": change.model_dump(mode="json"), "summary": change.summary(),
              "takes": [_delta_json(d) for d in change.takes]})
        return
    _print(change)


def _delta_json(d) -> dict:
    return {"persona_id": d.persona_id, "same_take": d.same_take, "flipped": d.flipped, "score_delta": d.score_delta}


def _when(c: Change, which: str) -> str:
    at = getattr(c, f"{which}_at")
    return f"{at:%Y-%m-%d %H:%M}"


def _print(c: Change) -> None:
    out.rule(f"[bold]{escape(c.name)}[/bold] — what changed")
    trig = c.to_trigger + (f": {c.to_reason}" if c.to_reason else "") + (", forced" if c.forced else "")
    out.print(f"from  {escape(c.from_label)}  [dim]{_when(c, 'from')} · {c.from_run_id}[/dim]")
    out.print(f"to    {escape(c.to_label)}  [dim]{_when(c, 'to')} · {c.to_run_id} · {escape(trig)}[/dim]")
    out.print()
    out.print(f"[bold]{escape(c.summary())}[/bold]")
    out.print()
    for label, text in changes.detail_lines(c):
        out.print(f"{label:<12} {escape(text)}")
    out.print("\n[bold]Takes[/bold]")
    for d in c.takes:
        b, a = changes.take_word(d.before, True), changes.take_word(d.after, True)
        if d.same_take:
            note = "same take (cached)"
        elif d.score_delta:
            note = f"{d.score_delta:+d}"
        else:
            note = ""
        out.print(f"  {escape(d.name):<10} {escape(b):>12} → {escape(a):<12} {note}".rstrip())
