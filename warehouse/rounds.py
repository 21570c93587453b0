"""Reads for the panel's second round (issue 27): the two rounds behind a verdict (`toolpanel why`)."""

from __future__ import annotations

from toolpanel.models import Take
from warehouse.store import Warehouse


def verdict_rounds(store: Warehouse, verdict_id: str) -> tuple[list[Take], list[Take]]:
    """(round one, round two) of a verdict: its round-two takes, and every round-one take they were shown
    (each one's own and the others'). ([], []) for a verdict of one round."""
    with store.connect() as con:
        row = con.execute("SELECT take_ids, run_id FROM verdicts WHERE verdict_id = ?", [verdict_id]).fetchone()
        if row is None:
            return [], []
        counted = store.takes_by_id(list(row[0]), con)
        # this run's takes (paid or cached); a partial re-review's carried takes are another verdict's
        linked = {r[0] for r in con.execute("SELECT take_id FROM run_takes WHERE run_id = ?", [row[1]]).fetchall()}
        second = [t for t in counted if t.round == 2 and t.take_id in linked]
        seen = list(dict.fromkeys(i for t in second for i in t.seen_take_ids))
        shown = store.takes_by_id(seen, con) if seen else []
    # a persona not asked again (abstained or failed in round one) counts with its round-one take
    first = {t.persona_id: t for t in counted if t.round == 1} | {t.persona_id: t for t in shown}
    return (list(first.values()), second) if second else ([], [])
