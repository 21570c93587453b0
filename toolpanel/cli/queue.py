"""`toolpanel queue`, `approve`, `reject`: editors clear the review queue from the terminal
(the same stage functions as the Prefect `review-queue` form)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.markup import escape

from toolpanel.cli.console import app, dump, err, fail, out
from toolpanel.cli.console import personas as _personas
from toolpanel.cli.console import settings as _settings
from toolpanel.errors import ToolpanelError
from toolpanel.queue.held import decide, held_items
from warehouse.store import Warehouse

ORDER = 90  # place in --help (toolpanel/cli/__init__.py)

EditorOpt = Annotated[str, typer.Option("--editor", metavar="NAME",
                                        help="Your name: recorded with the decision (required).")]
NoteOpt = Annotated[Optional[str], typer.Option("--note", help="Why: recorded with the decision.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
NoPublishOpt = Annotated[bool, typer.Option("--no-publish", help="Record only; do not re-render the site.")]


@app.command()
def queue(as_json: JsonOpt = False) -> None:
    """What is held for an editor, and why (newest held verdict per tool)."""
    settings = _settings()
    items = held_items(Warehouse(settings.warehouse_path), _personas(settings)) \
        if settings.warehouse_path.exists() else []
    if as_json:
        dump({"held": [i.model_dump() for i in items]})
        return
    if not items:
        out.print("Nothing is held: every complete verdict is published.")
        return
    out.print(f"[bold]{len(items)} tool{'s' if len(items) != 1 else ''} wait for an editor[/bold]")
    for i in items:
        out.rule(f"[bold]{escape(i.name)}[/bold] ({escape(i.slug)})")
        out.print(f"new verdict: {escape(i.new)}" + (f"   (held reviews: {i.held_verdicts}, the newest is shown)"
                                                     if i.held_verdicts > 1 else ""))
        out.print(f"published:   {escape(i.old) if i.old else 'nothing yet (new tool)'}")
        for r in i.reasons:
            out.print(f"[yellow]held:[/yellow] {escape(r)}")
        for t in i.takes:
            out.print(f"  {escape(t)}")
    out.print("\napprove with: toolpanel approve SLUG --editor NAME --note WHY   "
              "(or reject: toolpanel reject SLUG --editor NAME --note WHY)")


def _decide(slug: str, decision: str, editor: str, note: str | None, as_json: bool, no_publish: bool) -> None:
    settings = _settings()
    try:
        done = decide(settings, slug, decision, editor=editor, note=note)
    except ToolpanelError as exc:
        fail(exc)
    from toolpanel.publish.site import refresh

    report = None if no_publish else refresh(settings)
    if as_json:
        dump(done | {"published": report is not None})
        return
    extra = f"; {len(done['superseded'])} older held verdict(s) superseded" if done["superseded"] else ""
    out.print(f"{decision} {escape(slug)} ({done['verdict_id']}) by {escape(done['editor'])}{extra}")
    if report is not None:
        out.print(f"site: {report['written']} pages written ({report['site']})")
    else:
        err.print("note: site not re-rendered (--no-publish) — run toolpanel publish")


@app.command()
def approve(slug: str, editor: EditorOpt, note: NoteOpt = None, as_json: JsonOpt = False,
            no_publish: NoPublishOpt = False) -> None:
    """Publish a tool's newest held verdict (older held ones are recorded as superseded)."""
    _decide(slug, "approved", editor, note, as_json, no_publish)


@app.command()
def reject(slug: str, editor: EditorOpt, note: NoteOpt = None, as_json: JsonOpt = False,
           no_publish: NoPublishOpt = False) -> None:
    """Turn down a tool's held verdict: the published one stays (a new tool keeps "awaiting editor check")."""
    _decide(slug, "rejected", editor, note, as_json, no_publish)
