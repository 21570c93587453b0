"""Hold rules: should a new verdict wait for an editor before readers see it?

Each rule is a pure function of (new verdict, its takes, the last published verdict or None, findings,
the `[hold]` settings) returning reason strings ("split panel (3 ship / 2 skip)"); no reason = no hold.
Later stages add reasons by registering a function:

    @register("injection_suspected")
    def _injection(verdict, takes, published, findings, settings): ...

A rule runs unless `[hold]` sets its name to false (names not in `[hold]` always run).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from scoring.injection import HOLD_RULES as INJECTION_RULES
from toolpanel.models import Finding, Take, Verdict

Rule = Callable[[Verdict, Sequence[Take], "Verdict | None", Sequence[Finding], object], list[str]]
RULES: dict[str, Rule] = {}


def register(name: str) -> Callable[[Rule], Rule]:
    """Add a hold rule under `name` (also its `[hold]` switch)."""
    def deco(fn: Rule) -> Rule:
        RULES[name] = fn
        return fn
    return deco


def hold_reasons(verdict: Verdict, takes: Sequence[Take], published: Verdict | None,
                 findings: Sequence[Finding], settings) -> list[str]:
    """Every reason, in registry order, from the rules `settings` leaves on; [] = publish at once."""
    if getattr(settings, "hold_all", False):
        return ["every verdict waits for an editor ([hold] hold_all = true)"]
    reasons: list[str] = []
    for name, rule in RULES.items():
        if getattr(settings, name, True) is False:
            continue
        reasons.extend(rule(verdict, takes, published, findings, settings))
    return reasons


def _label(v: Verdict) -> str:
    return f"{v.verdict} {v.ship_pct:g}%" if v.ship_pct is not None else v.verdict


@register("split")
def split(verdict, takes, published, findings, settings) -> list[str]:
    if not verdict.split_panel:
        return []
    spread = f", scores spread {verdict.spread} points" if verdict.spread is not None else ""
    return [f"split panel ({verdict.ship_count} ship / {verdict.skip_count} skip{spread})"]


@register("failed_take")
def failed_take(verdict, takes, published, findings, settings) -> list[str]:
    failed = [t for t in takes if t.status == "failed"]
    if not failed:
        return []
    who = ", ".join(f"{t.persona_id} ({t.error_class or 'no valid answer'})" for t in failed)
    n = len(failed)
    return [f"{n} failed take{'s' if n != 1 else ''}: {who}"]


@register("contradiction")
def contradiction(verdict, takes, published, findings, settings) -> list[str]:
    bad = [t for t in takes if t.status == "ok" and "verdict_contradicts_score" in t.flags]
    return [f"{t.persona_id}'s verdict contradicts its score ({t.score}/100 · {t.verdict})" for t in bad]


@register("swing_pct")
def swing(verdict, takes, published, findings, settings) -> list[str]:
    if published is None:
        return []
    if published.verdict != verdict.verdict and {published.verdict, verdict.verdict} == {"ship", "skip"}:
        return [f"verdict flipped {_label(published)} → {_label(verdict)}"]
    limit = getattr(settings, "swing_pct", 40)
    if published.ship_pct is None or verdict.ship_pct is None or not limit:
        return []
    delta = abs(verdict.ship_pct - published.ship_pct)
    if delta >= limit:
        return [f"panel ship % swung {delta:g} points ({published.ship_pct:g}% → {verdict.ship_pct:g}%, "
                f"limit {limit:g})"]
    return []


ABSTAINED = 3  # this many abstentions hold a verdict, complete or not: an editor sees it either way
ABSTAINED_REASON = "abstained:"


@register("abstained")
def abstained(verdict, takes, published, findings, settings) -> list[str]:
    """Personas declining en masse is what an abstain-forcing card wants: never dropped silently."""
    who = [t.persona_id for t in takes if t.status == "abstained"]
    if len(who) < ABSTAINED:
        return []
    return [f"{ABSTAINED_REASON} {len(who)} of {len(takes)} personas gave no panel take ({', '.join(who)})"]


@register("new_tool")
def new_tool(verdict, takes, published, findings, settings) -> list[str]:
    if published is not None or not getattr(settings, "new_tool", False):
        return []
    return ["new tool: no verdict of it has been published yet"]


# The injection stage's rules (scoring/injection.py) come after these; injection does not import this module.
for _name, _rule in INJECTION_RULES.items():
    register(_name)(_rule)
