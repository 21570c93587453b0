"""The `toolpanel` command (owns: the command line; may import every stage package, and flows).

Registry: every module of this package but `console` is a command module. It registers its commands
on `console.app` when imported and sets `ORDER`, its place in `--help`. Adding a command is adding
one file here; `app` below is the assembled command, the entry point named in pyproject.toml.
"""

from __future__ import annotations

import importlib
import pkgutil

import typer

from toolpanel.cli.console import app as _app


def assemble() -> typer.Typer:
    """Import every command module, then list their commands in `ORDER` (then definition order)."""
    modules = [importlib.import_module(f"{__name__}.{m.name}")
               for m in pkgutil.iter_modules(__path__) if m.name != "console"]
    order = {m.__name__: getattr(m, "ORDER", 1000) for m in modules}
    _app.registered_commands.sort(key=lambda c: order.get(c.callback.__module__, 1000))
    return _app


app = assemble()
