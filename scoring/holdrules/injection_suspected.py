"""Screening found vendor text addressed to the panel and no differential review cleared it."""

from __future__ import annotations

from collections.abc import Sequence

from scoring.holdrules import register
from toolpanel.models import Finding, Take, Verdict
from scoring.injection import CLEAR
from toolpanel.screening.rules import screening_findings


def _quote(span: str, limit: int = 90) -> str:
    span = " ".join(span.split())
    return span if len(span) <= limit else span[: limit - 1] + "…"


@register("injection_suspected", order=70)
def injection_suspected(verdict: Verdict, takes: Sequence[Take], published, findings: Sequence[Finding],
                        settings) -> list[str]:
    """Screening found vendor text addressed to the panel (quoted examples only warn) and no differential
    review cleared it (it is off, or could not run): with high recall, screening decides what to double-check,
    the differential review what holds."""
    hits = [f for f in screening_findings(findings) if f.severity == "hold"]
    if not hits or any(f.rule == CLEAR.rule for f in findings):
        return []
    shown = "; ".join(f"{f.field} \"{_quote(f.span)}\" ({f.rule})" for f in hits[:4])
    more = f"; and {len(hits) - 4} more" if len(hits) > 4 else ""
    return [f"injection suspected: vendor text addressed to the panel — {shown}{more}"]
