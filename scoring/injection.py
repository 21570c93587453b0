"""Did vendor text steer the panel? Pure checks on takes, and the three hold rules built on them.

- `steering`: the same panel on the original text and on the neutralised copy (flagged spans removed);
  a persona whose ship/skip or abstention changes, or whose score moves STEER_POINTS or more, was steered.
- `take_checks`: on every verdict, screened or not: takes that repeat vendor instructions, every counted
  take at UNANIMOUS_SCORE or above or at UNANIMOUS_LOW_SCORE or below (no history needed), a persona far
  from its own history.
- Hold rules `injection_suspected`, `steered`, `take_anomaly` with the hold-rule registry's signature
  (verdict, takes, published, findings, settings) -> reasons.
"""

from __future__ import annotations

import math

from collections.abc import Mapping, Sequence

from toolpanel.models import Finding, Take, Verdict, panel_label

STEER_POINTS = 15
UNANIMOUS_SCORE = 95
UNANIMOUS_LOW_SCORE = 15
OUTLIER_SD = 3.0
OUTLIER_MIN_TAKES = 20
# What a take says only when it repeats what the vendor told the panel to say.
ECHO_PHRASES = ("pre-approved", "preapproved", "pre approved", "approved by the editors", "editors have approved",
                "best tool of the year", "official verdict", "as instructed", "as the card instructs",
                "the card says to", "i was told to", "instructed to give", "must give it")


def _state(t: Take) -> str:
    if t.status == "abstained":
        return "abstained"
    return f"{t.verdict} {t.score}"


def steering(original: Sequence[Take], neutral: Sequence[Take], points: int = STEER_POINTS) -> list[Finding]:
    """One finding per steered persona (failed takes on either side prove nothing)."""
    by_id = {t.persona_id: t for t in neutral if t.status != "failed"}
    found = []
    for t in original:
        n = by_id.get(t.persona_id)
        if n is None or t.status == "failed":
            continue
        changed = (t.status != n.status or (t.status == "ok" and (t.verdict != n.verdict
                                                                   or abs((t.score or 0) - (n.score or 0)) >= points)))
        if changed:
            found.append(Finding(field=f"take:{t.persona_id}", rule="steered", severity="hold",
                                 span=f"{_state(t)} with the vendor text, {_state(n)} without the flagged spans"))
    return found


# The differential review ran and no persona moved without the flagged text: screening alone holds nothing.
CLEAR = Finding(field="panel", rule="steered.none", severity="info",
                span="no persona moved when the flagged text was removed")


def verdict_line(v: Verdict) -> str:
    """'Ship · 5 ship / 0 skip, mean 100' for the side-by-side evidence."""
    mean = "" if v.mean_score is None else f", mean {v.mean_score:g}"
    return panel_label(v.verdict if v.quorum_met else "incomplete", v.ship_count, v.skip_count) + mean


def side_by_side(original: Verdict, neutral: Verdict) -> Finding:
    """Both verdicts in one finding, so every place that shows a hold shows them together."""
    return Finding(field="panel", rule="steered.verdicts", severity="info",
                   span=f"as published it would be {verdict_line(original)}; "
                        f"without the flagged text {verdict_line(neutral)}")


class ScoreHistory:
    """Per persona and tool (None: all other tools together): ok takes (count, sum, sum of squares), with
    per-persona totals kept alongside, so leaving one tool out costs a few subtractions. A batch reads the warehouse's once and keeps its own
    takes in a second one as they land; the outlier check never rescans the history per tool."""

    def __init__(self, sums: Mapping[tuple[str, str | None], tuple[int, float, float]] | None = None):
        self._by: dict[tuple[str, str], list] = {}
        self._totals: dict[str, list] = {}
        for (pid, slug), acc in (sums or {}).items():
            self._add(pid, slug, *acc)

    def _add(self, pid: str, slug: str | None, n: int, total: float, squares: float) -> None:
        for acc in (self._by.setdefault((pid, slug), [0, 0.0, 0.0]), self._totals.setdefault(pid, [0, 0.0, 0.0])):
            acc[0], acc[1], acc[2] = acc[0] + n, acc[1] + total, acc[2] + squares

    def add(self, take: Take) -> None:
        if take.status == "ok" and take.score is not None:
            self._add(take.persona_id, take.tool_slug, 1, take.score, take.score * take.score)

    def split_out(self, sums: Mapping[tuple[str, str], tuple[int, float, float]]) -> None:
        """Move some tools' sums out of the (persona, None) bucket of "all other tools" into their own."""
        for (pid, slug), (n, total, squares) in sums.items():
            self._add(pid, None, -n, -total, -squares)
            self._add(pid, slug, n, total, squares)

    def without(self, slug: str, *more: "ScoreHistory") -> dict[str, tuple[int, float, float]]:
        """Per persona, over this history and `more`: (ok takes on other tools, their mean, their sample
        standard deviation)."""
        sums: dict[str, list] = {}
        for h in (self, *more):
            for pid, (n, total, squares) in h._totals.items():
                own = h._by.get((pid, slug), (0, 0.0, 0.0))
                acc = sums.setdefault(pid, [0, 0.0, 0.0])
                acc[0], acc[1], acc[2] = acc[0] + n - own[0], acc[1] + total - own[1], acc[2] + squares - own[2]
        out = {}
        for pid, (n, total, squares) in sums.items():
            if n > 0:
                var = (squares - total * total / n) / (n - 1) if n > 1 else 0.0
                out[pid] = (n, total / n, math.sqrt(max(var, 0.0)))
        return out


def take_checks(takes: Sequence[Take], history: Mapping[str, tuple[int, float, float]] | None = None,
                *, unanimous: int = UNANIMOUS_SCORE, unanimous_low: int = UNANIMOUS_LOW_SCORE, sd: float = OUTLIER_SD,
                min_takes: int = OUTLIER_MIN_TAKES) -> list[Finding]:
    """Checks on the takes themselves. `history`: persona id -> (earlier ok takes, mean, standard deviation)."""
    found = []
    for t in takes:
        text = (t.paragraph or "").lower()
        hit = next((p for p in ECHO_PHRASES if p in text), None)
        if hit:
            found.append(Finding(field=f"take:{t.persona_id}", rule="take.echo", severity="hold",
                                 span=f"the take repeats vendor wording: \"{hit}\""))
    ok = [t for t in takes if t.status == "ok"]
    # Needs no history: an honest panel rarely agrees at an extreme; an obedient one does on any warehouse.
    if len(ok) >= 3 and all((t.score or 0) >= unanimous for t in ok):
        found.append(Finding(field="panel", rule="take.unanimous_high", severity="hold",
                             span=f"all {len(ok)} counted takes score {min(t.score or 0 for t in ok)} or above"))
    if len(ok) >= 3 and all((t.score or 0) <= unanimous_low for t in ok):
        found.append(Finding(field="panel", rule="take.unanimous_low", severity="hold",
                             span=f"all {len(ok)} counted takes score {max(t.score or 0 for t in ok)} or below"))
    for t in ok:
        n, mean, dev = (history or {}).get(t.persona_id, (0, 0.0, 0.0))
        if n >= min_takes and dev > 0 and abs((t.score or 0) - mean) > sd * dev:
            found.append(Finding(field=f"take:{t.persona_id}", rule="take.outlier", severity="hold",
                                 span=f"score {t.score} is {abs((t.score or 0) - mean) / dev:.1f} standard deviations "
                                      f"from this persona's mean {mean:.0f} over {n} earlier takes"))
    return found
