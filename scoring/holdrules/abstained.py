"""Personas declining en masse is what an abstain-forcing card wants: never dropped silently."""

from __future__ import annotations

from scoring.holdrules import register

ABSTAINED = 3  # this many abstentions hold a verdict, complete or not: an editor sees it either way
ABSTAINED_REASON = "abstained:"


@register("abstained", order=50)
def abstained(verdict, takes, published, findings, settings) -> list[str]:
    who = [t.persona_id for t in takes if t.status == "abstained"]
    if len(who) < ABSTAINED:
        return []
    return [f"{ABSTAINED_REASON} {len(who)} of {len(takes)} personas gave no panel take ({', '.join(who)})"]
