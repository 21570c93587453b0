"""Decisions on verdicts: held, auto-published, approved/rejected by an editor, or superseded."""

from __future__ import annotations

import duckdb

from toolpanel.models import Verdict
from warehouse.rows import new_id, now

# The latest decision of each verdict of one tool: what the views compute, for one slug only (the write
# path runs it per verdict; the views scan every decision).
_STATUS_OF_SLUG = ("SELECT verdict_id, arg_max(decision, (created_at, decision_id)) AS decision FROM decisions "
                   "WHERE slug = ? GROUP BY verdict_id")


def _published(con: duckdb.DuckDBPyConnection, slug: str) -> Verdict | None:
    """The tool's published verdict as the hold rules see it."""
    row = con.execute(
        f"WITH st AS ({_STATUS_OF_SLUG}) SELECT verdict, ship_count, skip_count, abstain_count, failed_count, "
        "ship_pct, mean_score, median_score, spread, split_panel, take_ids FROM verdicts v JOIN st USING (verdict_id) "
        "WHERE v.slug = ? AND st.decision IN ('approved', 'auto') ORDER BY v.created_at DESC, v.verdict_id DESC LIMIT 1",
        [slug, slug]).fetchone()
    if row is None:
        return None
    (v, ship, skip, abst, failed, pct, mean, median, spread, split, ids) = row
    return Verdict(tool_slug=slug, verdict=v, ship_count=ship, skip_count=skip, abstain_count=abst,
                   failed_count=failed, ship_pct=pct, mean_score=mean, median_score=median, spread=spread,
                   split_panel=split, quorum_met=True, take_ids=list(ids))


class Decisions:
    """The holds-and-publication part of Warehouse (needs Connections and `query`)."""

    @staticmethod
    def _decide(con, verdict_id: str, slug: str, decision: str, *, reasons: list[str] | None = None,
                editor: str | None = None, note: str | None = None, flow_run_id: str | None = None) -> str:
        decision_id = new_id("dc")
        con.execute("INSERT INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     [decision_id, verdict_id, slug, decision, reasons or [], editor, note, flow_run_id, now()])
        return decision_id

    @classmethod
    def _supersede_older(cls, con, slug: str, newest_id: str, note: str, editor: str | None = None,
                         flow_run_id: str | None = None) -> list[str]:
        """Held verdicts of `slug` older than `newest_id` are recorded as superseded (a newer one, which
        the editor may not have seen yet, stays held)."""
        ids = [r[0] for r in con.execute(
            f"WITH st AS ({_STATUS_OF_SLUG}) SELECT v.verdict_id FROM st JOIN verdicts v USING (verdict_id) "
            "JOIN verdicts n ON n.verdict_id = ? WHERE v.slug = ? AND st.decision = 'held' "
            "AND (v.created_at, v.verdict_id) < (n.created_at, n.verdict_id)", [slug, newest_id, slug]).fetchall()]
        for vid in ids:
            cls._decide(con, vid, slug, "superseded", editor=editor, note=note, flow_run_id=flow_run_id)
        return ids

    def held(self, slug: str | None = None) -> list[dict]:
        """The queue: held verdicts newer than each tool's published one, oldest tool first."""
        where = "WHERE slug = ?" if slug else ""
        return self.query(f"SELECT * FROM held_verdicts {where} ORDER BY held_at, slug, created_at",
                          [slug] if slug else [])

    def decide(self, slug: str, decision: str, *, editor: str, note: str | None = None,
               flow_run_id: str | None = None, verdict_id: str | None = None) -> dict | None:
        """An editor's approve/reject of a tool's newest held verdict (or `verdict_id`, if still held);
        the tool's other held verdicts are recorded as superseded. None when nothing of it is held."""
        assert decision in ("approved", "rejected")
        with self.transaction() as con:
            held = con.execute("SELECT verdict_id FROM held_verdicts WHERE slug = ? ORDER BY created_at DESC, "
                               "verdict_id DESC", [slug]).fetchall()
            ids = [r[0] for r in held]
            if not ids or (verdict_id and verdict_id not in ids):
                return None
            target = verdict_id or ids[0]
            decision_id = self._decide(con, target, slug, decision, editor=editor, note=note, flow_run_id=flow_run_id)
            superseded = self._supersede_older(con, slug, target, f"superseded: the editor {decision} {target}",
                                               editor, flow_run_id)
        return {"slug": slug, "verdict_id": target, "decision": decision, "decision_id": decision_id,
                "superseded": superseded, "editor": editor, "note": note}

    def published_verdict(self, slug: str) -> dict | None:
        rows = self.query("SELECT * FROM published_verdicts WHERE slug = ?", [slug])
        return rows[0] if rows else None
