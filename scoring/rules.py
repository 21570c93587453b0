"""The panel's rules, in one place.

- ship % is over personas that took a position (status ok); abstained and failed takes don't count.
- Quorum: at least QUORUM ok takes, else the verdict is "incomplete".
- A partial re-review is a whole-panel verdict: the personas asked again, plus the other personas'
  current takes carried over (panel_verdict); a persona with neither is "missing".
- Majority decides ship/skip. Tie rule: on equal ship and skip counts the mean score decides:
  ship if mean >= SHIP_THRESHOLD, else skip.
- Split panel: the minority side holds at least 40% of the positions, or scores spread 40+ points.
- Comparison ("which one to ship with"): a complete verdict beats an incomplete one; then higher
  ship %; then higher mean score; then more per-persona head-to-head wins; otherwise a tie.
  If both panels say skip, the answer is "neither" (the closer one is named in the reason).

`verdict_sql` is the same rule in SQL, for bulk loaders that make rows in SQL (warehouse/bulk.py); it is
generated from the constants here, and tests/test_verdict_sql.py proves it equal to `verdict`.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from toolpanel.models import CarriedTake, Comparison, HeadToHead, Take, Verdict

QUORUM = 3
SHIP_THRESHOLD = 60
SPLIT_MINORITY = 0.4
SPLIT_SPREAD = 40


def verdict(slug: str, takes: Sequence[Take]) -> Verdict:
    ok = [t for t in takes if t.status == "ok"]
    ships = sum(1 for t in ok if t.verdict == "ship")
    skips = sum(1 for t in ok if t.verdict == "skip")
    scores = [t.score for t in ok if t.score is not None]
    positions = ships + skips
    mean = round(statistics.fmean(scores), 1) if scores else None
    quorum = len(ok) >= QUORUM
    if not quorum:
        decided = "incomplete"
    elif ships != skips:
        decided = "ship" if ships > skips else "skip"
    else:
        decided = "ship" if (mean or 0) >= SHIP_THRESHOLD else "skip"
    spread = (max(scores) - min(scores)) if scores else None
    split = bool(positions) and (
        min(ships, skips) / positions >= SPLIT_MINORITY or (spread is not None and spread >= SPLIT_SPREAD)
    )
    return Verdict(
        tool_slug=slug,
        ship_count=ships,
        skip_count=skips,
        abstain_count=sum(1 for t in takes if t.status == "abstained"),
        failed_count=sum(1 for t in takes if t.status == "failed"),
        ship_pct=round(100 * ships / positions, 1) if positions else None,
        verdict=decided,
        mean_score=mean,
        median_score=float(statistics.median(scores)) if scores else None,
        spread=spread,
        split_panel=split,
        quorum_met=quorum,
        take_ids=sorted(t.take_id for t in takes),
    )


def verdict_sql(takes: str, by: tuple[str, ...] = ()) -> str:
    """`verdict` in SQL (DuckDB): a SELECT of one row per group of `takes` (a table or subquery with columns
    take_id, status, verdict, score; grouped by the columns `by`, which lead each row), with a column named
    after each Verdict field it sets: ship_count .. take_ids as in `verdict`. Rounding is half-to-even, as
    Python's round is."""
    lead = "".join(f"{c}, " for c in by)
    ok = "status = 'ok'"
    positions = "(ship_count + skip_count)"
    return f"""
        SELECT {lead}ship_count, skip_count, abstain_count, failed_count,
               CASE WHEN {positions} > 0 THEN round_even(100.0 * ship_count / {positions}, 1) END AS ship_pct,
               CASE WHEN ok_count < {QUORUM} THEN 'incomplete'
                    WHEN ship_count <> skip_count THEN CASE WHEN ship_count > skip_count THEN 'ship' ELSE 'skip' END
                    WHEN coalesce(mean_score, 0) >= {SHIP_THRESHOLD} THEN 'ship' ELSE 'skip' END AS verdict,
               mean_score, median_score, spread,
               CASE WHEN {positions} = 0 THEN false
                    ELSE least(ship_count, skip_count) / {positions} >= {SPLIT_MINORITY}
                         OR coalesce(spread >= {SPLIT_SPREAD}, false) END AS split_panel,
               ok_count >= {QUORUM} AS quorum_met, take_ids
        FROM (SELECT {lead}count(*) FILTER (WHERE {ok} AND verdict = 'ship') AS ship_count,
                     count(*) FILTER (WHERE {ok} AND verdict = 'skip') AS skip_count,
                     count(*) FILTER (WHERE status = 'abstained') AS abstain_count,
                     count(*) FILTER (WHERE status = 'failed') AS failed_count,
                     count(*) FILTER (WHERE {ok}) AS ok_count,
                     round_even(avg(score) FILTER (WHERE {ok}), 1) AS mean_score,
                     median(score) FILTER (WHERE {ok}) AS median_score,
                     max(score) FILTER (WHERE {ok}) - min(score) FILTER (WHERE {ok}) AS spread,
                     coalesce(list_sort(list(take_id)), []) AS take_ids
              FROM {takes}{" GROUP BY " + ", ".join(by) if by else ""})"""


def panel_verdict(slug: str, takes: Sequence[Take], panel: Sequence[str],
                  carried: Sequence[tuple[Take, CarriedTake]] = ()) -> Verdict:
    """The verdict of the whole panel `panel` (persona ids): the takes just asked for (or cached) and the
    carried ones count alike; personas with neither are listed as missing."""
    v = verdict(slug, [*takes, *(t for t, _ in carried)])
    have = {t.persona_id for t in takes} | {c.persona_id for _, c in carried}
    rank = {pid: i for i, pid in enumerate(panel)}
    return v.model_copy(update={"carried": sorted((c for _, c in carried), key=lambda c: rank.get(c.persona_id, 99)),
                                "missing": [p for p in panel if p not in have]})


def shortfall(v: Verdict) -> str | None:
    """Why a verdict has no quorum, in a reader's words (None when it has): what is missing, never a
    guess such as "too many abstained" when nobody abstained."""
    if v.quorum_met:
        return None
    parts = [f"{v.failed_count} failed" if v.failed_count else "",
             f"{v.abstain_count} abstained" if v.abstain_count else "",
             (f"{len(v.missing)} had no current take to carry ({', '.join(v.missing)})" if v.missing else "")]
    counted = v.ship_count + v.skip_count
    detail = "; ".join(p for p in parts if p)
    return (f"{counted} position{'' if counted == 1 else 's'} of the {QUORUM} a verdict needs"
            + (f": {detail}" if detail else ""))


def _head_to_head(persona_ids: Sequence[str], a: Sequence[Take], b: Sequence[Take]) -> list[HeadToHead]:
    by_a = {t.persona_id: t for t in a}
    by_b = {t.persona_id: t for t in b}
    rows = []
    for pid in persona_ids:
        ta, tb = by_a.get(pid), by_b.get(pid)
        if ta and tb and ta.status == "ok" and tb.status == "ok":
            winner = "a" if ta.score > tb.score else "b" if tb.score > ta.score else "tie"
        else:
            winner = "none"
        rows.append(HeadToHead(persona_id=pid, a=ta, b=tb, winner=winner))
    return rows


def _fmt(x: float | None, unit: str = "") -> str:
    return "n/a" if x is None else f"{x:g}{unit}"


def compare(a: Verdict, b: Verdict, a_takes: Sequence[Take], b_takes: Sequence[Take],
            persona_ids: Sequence[str], names: tuple[str, str] | None = None) -> Comparison:
    """Which one to ship with, and why."""
    name_a, name_b = names or (a.tool_slug, b.tool_slug)
    h2h = _head_to_head(persona_ids, a_takes, b_takes)
    wins_a = sum(1 for r in h2h if r.winner == "a")
    wins_b = sum(1 for r in h2h if r.winner == "b")

    def result(pick: str, reason: str) -> Comparison:
        slug = {"a": a.tool_slug, "b": b.tool_slug}.get(pick)
        return Comparison(a=a, b=b, head_to_head=h2h, pick=pick, pick_slug=slug, reason=reason)

    if not a.quorum_met and not b.quorum_met:
        return result("neither", "Neither tool has a complete panel verdict yet.")
    if a.quorum_met != b.quorum_met:
        pick = "a" if a.quorum_met else "b"
        other = name_b if pick == "a" else name_a
        chosen = a if pick == "a" else b
        if chosen.verdict == "skip":
            return result("neither", f"{other} has no complete panel verdict, and the panel says skip on "
                                     f"{name_a if pick == 'a' else name_b}.")
        return result(pick, f"Only {name_a if pick == 'a' else name_b} has a complete panel verdict "
                            f"({other} is incomplete).")
    key_a = (a.ship_pct or 0, a.mean_score or 0, wins_a)
    key_b = (b.ship_pct or 0, b.mean_score or 0, wins_b)
    if a.verdict == "skip" and b.verdict == "skip":
        closer = name_a if key_a > key_b else name_b if key_b > key_a else None
        tail = f" {closer} comes closer." if closer else ""
        return result("neither", f"The panel says skip on both.{tail}")
    if (a.ship_pct or 0) != (b.ship_pct or 0):
        pick = "a" if (a.ship_pct or 0) > (b.ship_pct or 0) else "b"
        return result(pick, f"{name_a if pick == 'a' else name_b} wins on panel ship %: "
                            f"{_fmt(a.ship_pct, '%') if pick == 'a' else _fmt(b.ship_pct, '%')} vs "
                            f"{_fmt(b.ship_pct, '%') if pick == 'a' else _fmt(a.ship_pct, '%')}.")
    if (a.mean_score or 0) != (b.mean_score or 0):
        pick = "a" if (a.mean_score or 0) > (b.mean_score or 0) else "b"
        hi, lo = (a.mean_score, b.mean_score) if pick == "a" else (b.mean_score, a.mean_score)
        return result(pick, f"Equal panel ship % ({_fmt(a.ship_pct, '%')}); "
                            f"{name_a if pick == 'a' else name_b} wins on mean score: {_fmt(hi)} vs {_fmt(lo)}.")
    if wins_a != wins_b:
        pick = "a" if wins_a > wins_b else "b"
        return result(pick, f"Equal ship % and mean score; {name_a if pick == 'a' else name_b} wins more "
                            f"persona head-to-heads ({max(wins_a, wins_b)} to {min(wins_a, wins_b)}).")
    return result("tie", "Too close to call: equal ship %, mean score and head-to-head wins.")
