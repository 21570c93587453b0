"""What changed between the two rounds of a deliberating panel's verdict (`[panel] rounds = 2`, issue 27), in
words: one line per persona and one summary line (`toolpanel why`). Pure: the takes come from
warehouse.rounds, the measure from scoring.deliberation.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field

from scoring.deliberation import ALREADY, AWAY, TOWARD, herding, majority, moves
from toolpanel.models import Take


class RoundsChange(BaseModel):
    """The between-rounds part of `why`: a summary sentence, one line per persona, and the herding counts."""

    verdict_id: str
    summary: str
    lines: list[str] = Field(default_factory=list)
    herding: dict = Field(default_factory=dict)


def _word(t: Take) -> str:
    return f"{t.verdict} {t.score}" if t.status == "ok" else t.status


def explain_rounds(verdict_id: str, first: Sequence[Take], second: Sequence[Take], order: Sequence[str],
                   names: dict[str, str]) -> RoundsChange | None:
    """None for a verdict of one round (no round-two take)."""
    if not second:
        return None
    rank = {pid: i for i, pid in enumerate(order)}
    name = lambda pid: names.get(pid) or pid.capitalize()  # noqa: E731
    by_first = {t.persona_id: t for t in first}
    moved = {m.persona_id: m for m in moves(first, second)}
    side = majority(first)
    where = f"the round-one majority ({side[0]}, mean {side[1]:.0f})" if side else "no round-one majority"
    lines = []
    for t in sorted(second, key=lambda t: rank.get(t.persona_id, 99)):
        before = by_first.get(t.persona_id)
        was = _word(before) if before else "its round-one take"
        m = moved.get(t.persona_id)
        if m is None:  # no majority, or a round-two take without a position
            change = "kept" if before and _word(before) == _word(t) else "went"
            lines.append(f"{name(t.persona_id)} {change} {was} → {_word(t)} in round two"
                         + (f" ({t.error_class})" if t.status == "failed" and t.error_class else ""))
            continue
        how = {TOWARD: "moved", AWAY: "moved"}.get(m.kind, "kept" if _word(before) == _word(t) else "went")
        tail = {TOWARD: ", toward the round-one majority", AWAY: ", away from the round-one majority",
                ALREADY: " (already with the majority)"}.get(m.kind, "")
        lines.append(f"{name(t.persona_id)} {how} {was} → {_word(t)} in round two{tail}")
    asked = {t.persona_id for t in second}
    lines += [f"{name(t.persona_id)} was not asked again ({t.status} in round one)"
              for t in sorted(first, key=lambda t: rank.get(t.persona_id, 99))
              if t.persona_id not in asked and t.status != "ok" and t.persona_id in rank]
    h = herding([(first, second)])
    toward = [name(p) for p, m in moved.items() if m.kind == TOWARD]
    if not side:
        summary = f"Round two: {len(second)} personas wrote again; round one had {where}, so nobody could herd."
    elif toward:
        summary = (f"Round two: {', '.join(toward)} moved toward {where}; herding {h['herding']:.2f} "
                   f"({h['toward']} of {h['room']} with room to move).")
    else:
        summary = (f"Round two: nobody moved toward {where}"
                   + (f" (herding 0 of {h['room']} with room to move)." if h["room"] else "."))
    return RoundsChange(verdict_id=verdict_id, summary=summary, lines=lines, herding=h)
