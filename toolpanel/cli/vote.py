"""`toolpanel vote`: community votes, one at a time or a CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from toolpanel.cli.console import app, err, fail, out
from toolpanel.cli.console import settings as _settings
from warehouse.store import Warehouse

ORDER = 40


@app.command()
def vote(
    slug: Annotated[Optional[str], typer.Argument(help="Tool slug.")] = None,
    choice: Annotated[Optional[str], typer.Argument(metavar="ship|skip")] = None,
    voter: Annotated[Optional[str], typer.Option(metavar="NAME", help="Who voted (optional).")] = None,
    import_csv: Annotated[Optional[Path], typer.Option(
        "--import", metavar="FILE", help="CSV with columns slug,vote[,voter].")] = None,
) -> None:
    """Record a community vote (shown beside the panel on the site), or import a CSV of votes."""
    from toolpanel.ingest import votes

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
