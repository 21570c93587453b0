"""The takes look steered even when nothing was screened (history-based checks arrive as findings)."""

from __future__ import annotations

from collections.abc import Sequence

from scoring.holdrules import register
from toolpanel.models import Finding, Take, Verdict
from scoring.injection import take_checks


@register("take_anomaly", order=90)
def take_anomaly(verdict: Verdict, takes: Sequence[Take], published, findings: Sequence[Finding],
                 settings) -> list[str]:
    """The takes look steered even when nothing was screened (history-based checks arrive as findings)."""
    seen, reasons = set(), []
    for f in [*take_checks(takes), *(f for f in findings if f.rule.startswith("take."))]:
        if (f.field, f.rule) not in seen:
            seen.add((f.field, f.rule))
            reasons.append(f"take anomaly ({f.rule.removeprefix('take.')}): {f.field.removeprefix('take:')}: {f.span}")
    return reasons
