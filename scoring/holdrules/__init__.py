"""Hold rules: should a new verdict wait for an editor before readers see it? (the registry)

Each rule is one file in this folder: a pure function of (new verdict, its takes, the last published
verdict or None, findings, the `[hold]` settings) returning reason strings ("split panel (3 ship / 2
skip)"); no reason = no hold. A file registers its rule:

    @register("split", order=10)
    def split(verdict, takes, published, findings, settings): ...

Adding a rule is adding a file here. A rule runs unless `[hold]` sets its name to false (names not in
`[hold]` always run); reasons come in `order`. May import: toolpanel.models, toolpanel.sections, scoring.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Sequence

from toolpanel.models import Finding, Take, Verdict
from toolpanel.sections import HoldSettings

Rule = Callable[[Verdict, Sequence[Take], "Verdict | None", Sequence[Finding], HoldSettings], list[str]]
RULES: dict[str, Rule] = {}
_ORDER: dict[str, int] = {}


def register(name: str, order: int = 100) -> Callable[[Rule], Rule]:
    """Add a hold rule under `name` (also its `[hold]` switch); `order` places its reasons."""
    def deco(fn: Rule) -> Rule:
        RULES[name], _ORDER[name] = fn, order
        return fn
    return deco


def rules() -> dict[str, Rule]:
    """Every registered rule, in order; the files of this folder are loaded on first use."""
    for m in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{m.name}")  # once each: Python caches modules
    return dict(sorted(RULES.items(), key=lambda kv: _ORDER[kv[0]]))


def hold_reasons(verdict: Verdict, takes: Sequence[Take], published: Verdict | None,
                 findings: Sequence[Finding], settings: HoldSettings | None = None,
                 only: Iterable[str] | None = None) -> list[str]:
    """Every reason, in order, from the rules `settings` leaves on ([] = publish at once); `only` names
    a subset (the attack suite's figures by layer)."""
    settings = settings or HoldSettings()
    if settings.hold_all:
        return ["every verdict waits for an editor ([hold] hold_all = true)"]
    wanted = set(only) if only is not None else None
    reasons: list[str] = []
    for name, rule in rules().items():
        if getattr(settings, name, True) is False or (wanted is not None and name not in wanted):
            continue
        reasons.extend(rule(verdict, takes, published, findings, settings))
    return reasons
