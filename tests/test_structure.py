"""The house a newcomer walks: no import cycles among the project's modules, no oversized source file."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import ROOT

PACKAGES = ("toolpanel", "scoring", "warehouse", "flows")
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    mods = {}
    for pkg in PACKAGES:
        for f in (ROOT / pkg).rglob("*.py"):
            mods[".".join(f.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")] = f
    return mods


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def import_graph() -> dict[str, set[str]]:
    """Module -> project modules it imports anywhere: module level, `if TYPE_CHECKING` blocks and inside
    functions alike (a deferred import is still a dependency). Importing a.b.c also runs package a.b."""
    mods = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                subs = {f"{node.module}.{a.name}" for a in node.names} & set(mods)
                targets |= subs | ({node.module} if len(subs) < len(node.names) else set())
        for t in set(targets):
            targets.update(_parents(t))
        # a module's own packages are already being imported when it runs
        graph[name] = {t for t in targets if t in mods and t != name and t not in _parents(name)}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles_among_project_modules():
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_source_file_over_the_limit_outside_tests_and_bench():
    long = {str(f.relative_to(ROOT)): n for f in ROOT.rglob("*.py")
            if f.relative_to(ROOT).parts[0] not in ("tests", ".venv")
            and not any(p.startswith(".") for p in f.relative_to(ROOT).parts)
            and (n := len(f.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_every_exception_a_user_can_meet_is_a_toolpanel_error():
    """Errors are one family (toolpanel.errors); the few internal signals are listed there, with why."""
    import importlib
    import inspect

    from toolpanel.errors import INTERNAL_SIGNALS, ToolpanelError

    found, outside = set(), []
    for name, path in _modules().items():
        tree = ast.parse(path.read_text())
        if not any(isinstance(n, ast.ClassDef) for n in tree.body):
            continue
        module = importlib.import_module(name)
        for cls_name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == name and issubclass(cls, BaseException):
                found.add(f"{name}.{cls_name}")
                if not issubclass(cls, ToolpanelError) and f"{name}.{cls_name}" not in INTERNAL_SIGNALS:
                    outside.append(f"{name}.{cls_name}")
    assert outside == []
    assert set(INTERNAL_SIGNALS) <= found  # no stale entry
