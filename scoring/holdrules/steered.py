"""The differential review moved a persona: the vendor text steered the panel."""

from __future__ import annotations

from collections.abc import Sequence

from scoring.holdrules import register
from toolpanel.models import Finding, Take, Verdict


@register("steered", order=80)
def steered(verdict: Verdict, takes: Sequence[Take], published, findings: Sequence[Finding], settings) -> list[str]:
    """The differential review moved a persona: the vendor text steered the panel."""
    hits = [f for f in findings if f.rule == "steered"]
    if not hits:
        return []
    both = next((f.span for f in findings if f.rule == "steered.verdicts"), None)
    who = "; ".join(f"{f.field.removeprefix('take:')}: {f.span}" for f in hits)
    return [f"steered: {len(hits)} persona{'s' if len(hits) != 1 else ''} changed without the flagged text — {who}"
            + (f" ({both})" if both else "")]
