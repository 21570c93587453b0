"""What every `toolpanel` command shares: the app, the two consoles, settings loading, `fail`.

Command modules (cli, cli_ingest, ...) import from here and register on `app`; nothing imports a
command module, so there is no import cycle.
"""

from __future__ import annotations

import io
import json
import sys
from typing import NoReturn

import click
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from toolpanel.config import Settings, load_settings
from toolpanel.errors import ExitCode, ToolpanelError

# --help reads as prose: flags carry no type, a value is named for what it is (PATH, N, TEXT or the
# command's own metavar), arguments are upper case as in the usage line; help text is plain (no markup).
_TYPE_WORDS = {"str": "TEXT", "int": "N", "float": "NUMBER", "Path": "PATH"}


class _ProseOption(TyperOption):
    def display_type_rich(self, ctx: click.Context) -> str | None:
        if self.is_flag or self.count:
            return None
        if self.metavar is not None:
            return self.metavar
        bare = self.bare_type().removeprefix("list[").removesuffix("]")
        return _TYPE_WORDS.get(bare, bare.upper())


class _ProseArgument(TyperArgument):
    @property
    def display_name_raw(self) -> str:
        return self.metavar or (self.name or "").upper()

    def display_type_rich(self, ctx: click.Context) -> str | None:
        return None

    def get_usage_pieces(self, ctx: click.Context) -> list[str]:
        name = self.display_name_raw + ("..." if self.nargs != 1 else "")
        return [name if self.required else f"[{name}]"]


def _prose(params: list) -> list:
    for p in params:
        if type(p) in (TyperOption, TyperArgument):
            p.__class__ = _ProseOption if isinstance(p, TyperOption) else _ProseArgument
    return params


class _Command(TyperCommand):
    def get_params(self, ctx: click.Context) -> list:
        return _prose(super().get_params(ctx))


class _Group(TyperGroup):
    """The one handler every command runs through: any ToolpanelError that escapes a command — a warehouse held
    past the lock wait (WarehouseBusy, code 4) in any phase, a broken file — ends it with one `error:` line
    and its exit code, never a traceback."""

    def get_params(self, ctx: click.Context) -> list:
        return _prose(super().get_params(ctx))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, cmd.get_short_help_str(limit=10_000)) for name in self.list_commands(ctx)
                if (cmd := self.get_command(ctx, name)) is not None and not cmd.hidden]
        with formatter.section("Commands"):
            formatter.write_dl(rows)  # each command's first sentence, whole (wrapped, never cut with "...")

    def invoke(self, ctx: click.Context):
        from warehouse import connection

        connection.lock_notice = connection.lock_notice or _lock_notice
        try:
            return super().invoke(ctx)
        except ToolpanelError as exc:  # a held warehouse (code 4), a broken manifest, ...: one line, its exit code
            fail(exc)


class _App(typer.Typer):
    def command(self, *args, cls: type[TyperCommand] | None = None, **kwargs):
        return super().command(*args, cls=cls or _Command, **kwargs)


def _lock_notice(path, pid, wait) -> None:
    """Said once, after 2 s of waiting for another process's hold on the warehouse."""
    who = f"another process (PID {pid})" if pid else "another process"
    err.print(f"[yellow]note:[/yellow] {escape(str(path))} is held by {who}; waiting up to {wait:g} s. "
              f"Analysts: read the snapshot {escape(str(path.parent / 'analyst.duckdb'))}, never the warehouse.")


app = _App(cls=_Group, add_completion=False, no_args_is_help=True, rich_markup_mode=None,
           help="AI-panel reviews of newly launched tools: five personas, one verdict, full history.")


def group(name: str, help: str) -> typer.Typer:
    """A command group (`toolpanel NAME COMMAND`, e.g. newsletter) on `app`: the same prose help and handler."""
    sub = _App(cls=_Group, add_completion=False, no_args_is_help=True, rich_markup_mode=None, help=help)
    app.add_typer(sub, name=name)
    return sub


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
    from toolpanel.panel.personas import PersonaError, load_personas

    try:
        return load_personas(settings.personas_dir, only)
    except PersonaError as exc:
        fail(exc)


def dump(obj) -> None:
    """`--json` output: one indented document on stdout."""
    sys.stdout.write(json.dumps(obj, indent=2, default=str, ensure_ascii=False) + "\n")


def show(table: Table, console: Console | None = None) -> None:
    """Print a table only when it fits the terminal with every value whole (wrapped at words, never cut
    with "…"); otherwise one block per row, a `column  value` line each (at 80 columns, most tables)."""
    console = console or out
    probe = Console(width=console.width, file=io.StringIO(), color_system=None, highlight=False, soft_wrap=False)
    probe.print(table)
    columns = table.columns
    cells = [list(c.cells) for c in columns]
    given = sum(str(v).count("…") for col in cells for v in col) + str(table.title or "").count("…")
    if probe.file.getvalue().count("…") <= given:
        console.print(table)
        return
    if table.title:
        console.print(f"[bold]{table.title}[/bold]")
    for row in zip(*cells):
        block = Table.grid(padding=(0, 2))
        block.add_column(no_wrap=True, style="bold")
        block.add_column(overflow="fold")  # a word wider than the terminal is folded, never cut
        for col, value in zip(columns, row):
            block.add_row(col.header, value)
        console.print()
        console.print(block)
