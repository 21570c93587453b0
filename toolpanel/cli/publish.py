"""`toolpanel publish`: render the static site."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from toolpanel.cli.console import dump, err, fail, out
from toolpanel.cli.console import app
from toolpanel.cli.console import settings as _settings
from toolpanel.errors import ExitCode

ORDER = 30


@app.command()
def publish(
    full: Annotated[bool, typer.Option("--full", help="Rewrite every page, not only changed ones.")] = False,
    out_dir: Annotated[Optional[Path], typer.Option(
        "--out", metavar="DIR", help="Write the site here instead of TOOLPANEL_HOME/site.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Render the static site (tool pages, A vs B comparisons, index, personas, feeds, digest)."""
    from toolpanel.publish.site import PublishError, publish_site

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
