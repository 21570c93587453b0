"""`toolpanel newsletter`: subscribers and the weekly email of the digest (docs/newsletter.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from toolpanel.cli.console import dump, err, fail, group, out, show
from toolpanel.cli.console import settings as _settings
from warehouse.store import Warehouse

ORDER = 45  # place in --help (toolpanel/cli/__init__.py)

newsletter = group("newsletter", "The weekly email of the digest: subscribe, unsubscribe, import and list "
                                 "readers, send the week's verdicts.")


def _store() -> Warehouse:
    return Warehouse(_settings().warehouse_path)


@newsletter.command()
def subscribe(email: Annotated[str, typer.Argument(metavar="EMAIL", help="The reader's address.")]) -> None:
    """Add a reader (again, after an unsubscribe or a bounce)."""
    from toolpanel.newsletter.subscribers import subscribe as add

    address, added = add(_store(), email)
    out.print(f"subscribed {escape(address)}" if added else f"{escape(address)} is already subscribed")


@newsletter.command()
def unsubscribe(email: Annotated[str, typer.Argument(metavar="EMAIL", help="The reader's address.")]) -> None:
    """Remove a reader: no further newsletter is sent to them."""
    from toolpanel.newsletter.subscribers import unsubscribe as remove

    address, removed = remove(_store(), email)
    out.print(f"unsubscribed {escape(address)}" if removed else f"{escape(address)} was not subscribed: nothing to do")


@newsletter.command("import")
def import_(file: Annotated[Path, typer.Argument(metavar="FILE.csv", help="A CSV whose header names an `email` "
                                                                          "column (other columns are ignored).")]) -> None:
    """Subscribe every address of a CSV; a bad row is one `rejected` line (file:line) and the rest is imported.
    Addresses that unsubscribed or bounced are skipped: only `subscribe` brings one back."""
    from toolpanel.newsletter.subscribers import import_csv

    report = import_csv(_store(), file)
    for e in report.rejected:
        err.print(f"[red]rejected[/red] {escape(str(e))}")
    out.print(f"imported {report.imported} subscriber{'s' if report.imported != 1 else ''}, {report.already} already "
              f"subscribed, {report.skipped} skipped (unsubscribed or bounced earlier), rejected {len(report.rejected)}")
    raise typer.Exit(1 if report.rejected else 0)


@newsletter.command("list")
def list_(
    everyone: Annotated[bool, typer.Option("--all", help="Also who unsubscribed or bounced.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Current subscribers (each address's latest event is `subscribed`), by address."""
    from toolpanel.newsletter.subscribers import subscribers

    rows = subscribers(_store(), None if everyone else "subscribed")
    if as_json:
        dump([r.model_dump(mode="json") for r in rows])
        return
    n = sum(1 for r in rows if r.status == "subscribed")
    if rows:
        table = Table(title=None, box=None, pad_edge=False)
        for col in ("address", "status", "since (UTC)", "source"):
            table.add_column(col)
        for r in rows:
            table.add_row(escape(r.address), r.status, r.since.strftime("%Y-%m-%d %H:%M"), escape(r.source))
        show(table)
    out.print(f"{n} subscriber{'s' if n != 1 else ''}")


@newsletter.command()
def send(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Send nothing: list who would get it and show the "
                                                            "message (or write them all to --out).")] = False,
    week: Annotated[Optional[str], typer.Option(metavar="YYYY-Www", help="The ISO week to send (default: the "
                                                "digest's, the week of the newest published verdict).")] = None,
    out_file: Annotated[Optional[Path], typer.Option("--out", metavar="FILE", help="With --dry-run: write every "
                                                     "message to this mbox file.")] = None,
) -> None:
    """Email the week's verdicts to every subscriber not yet sent them: exit 1 if the server refused an address
    (4xx is tried again next send, 5xx marks it bounced), 3 if it cannot be reached."""
    from toolpanel.newsletter.send import send as deliver

    def said(address: str, refused) -> None:  # each reader as the server answered, recorded
        if refused is None:
            out.print(f"sent {escape(address)}")
        else:
            err.print(f"[{'red' if refused.status == 'bounced' else 'yellow'}]{escape(refused.line())}[/]")

    if out_file and not dry_run:
        fail("--out writes the messages of a dry run: add --dry-run (a real send writes no file)")
    report = deliver(_settings(), week, dry_run=dry_run, out=out_file, progress=said)
    if dry_run and report.verdicts:
        for address in report.recipients:
            out.print(f"would send to {escape(address)}")
        if out_file:
            out.print(f"wrote {len(report.recipients)} message{'s' if len(report.recipients) != 1 else ''} to {out_file}")
        elif report.sample:
            out.print(f"--- the message to {escape(report.recipients[0])} ---", highlight=False)
            out.out(report.sample, highlight=False)
    out.print(report.line())
    raise typer.Exit(int(report.exit_code))
