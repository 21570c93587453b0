"""A split panel: ship and skip both strong (scoring/rules.py decides what counts as split)."""

from __future__ import annotations

from scoring.holdrules import register


@register("split", order=10)
def split(verdict, takes, published, findings, settings) -> list[str]:
    if not verdict.split_panel:
        return []
    spread = f", scores spread {verdict.spread} points" if verdict.spread is not None else ""
    return [f"split panel ({verdict.ship_count} ship / {verdict.skip_count} skip{spread})"]
