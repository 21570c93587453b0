"""The verdict flipped, or the panel's ship % swung `[hold] swing_pct` points, against the published one."""

from __future__ import annotations

from scoring.holdrules import register


def _label(v) -> str:
    return f"{v.verdict} {v.ship_pct:g}%" if v.ship_pct is not None else v.verdict


@register("swing_pct", order=40)
def swing(verdict, takes, published, findings, settings) -> list[str]:
    if published is None:
        return []
    if published.verdict != verdict.verdict and {published.verdict, verdict.verdict} == {"ship", "skip"}:
        return [f"verdict flipped {_label(published)} → {_label(verdict)}"]
    limit = settings.swing_pct
    if published.ship_pct is None or verdict.ship_pct is None or not limit:
        return []
    delta = abs(verdict.ship_pct - published.ship_pct)
    if delta >= limit:
        return [f"panel ship % swung {delta:g} points ({published.ship_pct:g}% → {verdict.ship_pct:g}%, "
                f"limit {limit:g})"]
    return []
