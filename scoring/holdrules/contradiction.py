"""A take whose ship/skip contradicts its own score."""

from __future__ import annotations

from scoring.holdrules import register


@register("contradiction", order=30)
def contradiction(verdict, takes, published, findings, settings) -> list[str]:
    bad = [t for t in takes if t.status == "ok" and "verdict_contradicts_score" in t.flags]
    return [f"{t.persona_id}'s verdict contradicts its score ({t.score}/100 · {t.verdict})" for t in bad]
