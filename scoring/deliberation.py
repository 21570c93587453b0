"""Herding in a two-round panel (`[panel] rounds = 2`, issue 27): did the personas move toward the round-one
majority after reading the others? Pure (no I/O); `toolpanel eval` reports it, `toolpanel why` words it.

Definitions (docs/panel.md, "Herding"):
- Round-one majority: the side (ship or skip) with more ok round-one takes of the whole panel, and the mean
  score of that side's takes. On equal counts there is no majority, and nobody of that review is counted.
- A persona is counted when it has an ok take in both rounds. It had ROOM to move toward the majority unless
  it already sat there: on the majority side with a score within HERD_POINTS of the majority's mean.
- It moved TOWARD the majority when its round-two verdict went over to the majority side, or its score came
  at least HERD_POINTS closer to the majority's mean. It moved AWAY when its verdict left the majority side,
  or its score went at least HERD_POINTS further from that mean. Anything else: it stayed.
- Herding = toward / (personas with room to move). 1.0: everyone who could move toward the majority did;
  0.0: nobody did (the panel kept its independent views, or moved only away). None when nobody had room.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from toolpanel.models import Take

HERD_POINTS = 5  # a score move this large (or larger) toward or away from the majority's mean counts

TOWARD, AWAY, STAYED, ALREADY = "toward", "away", "stayed", "already"


class Move(BaseModel):
    """One persona between the rounds."""

    persona_id: str
    before_verdict: str
    before_score: int
    after_verdict: str
    after_score: int
    majority: str  # ship | skip: the round-one majority side
    majority_mean: float
    kind: str  # toward | away | stayed | already (sat at the majority: no room to move toward it)

    @property
    def flipped(self) -> bool:
        return self.before_verdict != self.after_verdict


def majority(first: Sequence[Take]) -> tuple[str, float] | None:
    """(side, mean score of that side's takes) of the ok round-one takes; None on equal counts or no take."""
    ok = [t for t in first if t.status == "ok" and t.score is not None]
    ships = [t.score for t in ok if t.verdict == "ship"]
    skips = [t.score for t in ok if t.verdict == "skip"]
    if len(ships) == len(skips):
        return None
    side, scores = ("ship", ships) if len(ships) > len(skips) else ("skip", skips)
    return side, sum(scores) / len(scores)


def moves(first: Sequence[Take], second: Sequence[Take], points: int = HERD_POINTS) -> list[Move]:
    """Each persona with an ok take in both rounds, and how it moved relative to the round-one majority
    (empty when round one has no majority)."""
    found = majority(first)
    if found is None:
        return []
    side, mean = found
    after = {t.persona_id: t for t in second if t.status == "ok" and t.score is not None}
    out = []
    for t in first:
        a = after.get(t.persona_id)
        if t.status != "ok" or t.score is None or a is None:
            continue
        d1, d2 = abs(t.score - mean), abs(a.score - mean)
        if t.verdict == side and d1 < points:
            kind = ALREADY
        elif t.verdict == side and a.verdict != side:  # left the majority
            kind = AWAY
        elif (t.verdict != side and a.verdict == side) or d1 - d2 >= points:
            kind = TOWARD
        elif d2 - d1 >= points:
            kind = AWAY
        else:
            kind = STAYED
        out.append(Move(persona_id=t.persona_id, before_verdict=t.verdict, before_score=t.score,
                        after_verdict=a.verdict, after_score=a.score, majority=side, majority_mean=round(mean, 1),
                        kind=kind))
    return out


def herding(reviews: Sequence[tuple[Sequence[Take], Sequence[Take]]], points: int = HERD_POINTS) -> dict:
    """Over (round one, round two) pairs of reviews: the herding share and its counts."""
    all_moves = [m for first, second in reviews for m in moves(first, second, points)]
    counts = {k: sum(m.kind == k for m in all_moves) for k in (TOWARD, AWAY, STAYED, ALREADY)}
    room = counts[TOWARD] + counts[AWAY] + counts[STAYED]
    return {"herding": round(counts[TOWARD] / room, 4) if room else None, "room": room, **counts,
            "flips": sum(m.flipped for m in all_moves), "points": points}
