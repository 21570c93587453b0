"""What every `toolpanel` command shares: the app, the two consoles, settings loading, `fail`.

Command modules (cli, cli_ingest, ...) import from here and register on `app`; nothing imports a
command module, so there is no import cycle.
"""

from __future__ import annotations

import json
import sys
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from toolpanel.config import Settings, load_settings
from toolpanel.errors import ExitCode, ToolpanelError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="AI-panel reviews of newly launched tools: five personas, one verdict, full history.")
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str | ToolpanelError, code: int | None = None) -> NoReturn:
    """Print one `error:` line and exit (a ToolpanelError brings its own exit code)."""
    if code is None:
        code = message.code if isinstance(message, ToolpanelError) else ExitCode.CONFIG
    err.print(f"[red]error:[/red] {escape(str(message))}")
    raise typer.Exit(int(code))


def settings(**overrides) -> Settings:
    """Settings, or one `error:` line and exit 2."""
    try:
        return load_settings(**overrides)
    except ToolpanelError as exc:
        fail(exc)


def personas(settings: Settings, only: list[str] | None = None) -> list:
    """The panel's personas, or one `error:` line and exit 2 (a broken persona file stops every command)."""
    from toolpanel.personas import PersonaError, load_personas

    try:
        return load_personas(settings.personas_dir, only)
    except PersonaError as exc:
        fail(exc)


def dump(obj) -> None:
    """`--json` output: one indented document on stdout."""
    sys.stdout.write(json.dumps(obj, indent=2, default=str, ensure_ascii=False) + "\n")
