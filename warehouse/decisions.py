"""Decisions on verdicts: held, auto-published, approved/rejected by an editor, or superseded."""

from __future__ import annotations

import duckdb

from toolpanel.models import Verdict
from warehouse.rows import new_id, now

# The latest decision of each verdict of some tools: what the views compute, for those slugs only (the
# write path runs it per group of verdicts; the views scan every decision).
_STATUS_OF_SLUGS = ("SELECT verdict_id, arg_max(decision, (created_at, decision_id)) AS decision FROM decisions "
                    "WHERE slug IN (SELECT unnest(?::VARCHAR[])) GROUP BY verdict_id")


def _published(con: duckdb.DuckDBPyConnection, slug: str) -> Verdict | None:
    """The tool's published verdict as the hold rules see it."""
    return published_of(con, [slug]).get(slug)


def published_of(con: duckdb.DuckDBPyConnection, slugs: list[str]) -> dict[str, Verdict]:
    """Each tool's published verdict as the hold rules see it (one query for many tools)."""
    if not slugs:
        return {}
    rows = con.execute(
        f"WITH st AS ({_STATUS_OF_SLUGS}) SELECT v.slug, verdict, ship_count, skip_count, abstain_count, "
        "failed_count, ship_pct, mean_score, median_score, spread, split_panel, take_ids FROM verdicts v "
        "JOIN st USING (verdict_id) WHERE v.slug IN (SELECT unnest(?::VARCHAR[])) AND st.decision IN ('approved', 'auto') "
        "QUALIFY row_number() OVER (PARTITION BY v.slug ORDER BY v.created_at DESC, v.verdict_id DESC) = 1",
        [slugs, slugs]).fetchall()
    return {slug: Verdict(tool_slug=slug, verdict=v, ship_count=ship, skip_count=skip, abstain_count=abst,
                          failed_count=failed, ship_pct=pct, mean_score=mean, median_score=median, spread=spread,
                          split_panel=split, quorum_met=True, take_ids=list(ids))
            for (slug, v, ship, skip, abst, failed, pct, mean, median, spread, split, ids) in rows}


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
        return cls._supersede_older_many(con, {slug: newest_id}, note, editor, flow_run_id)

    @staticmethod
    def _supersede_older_many(con, newest: dict[str, str], note: str, editor: str | None = None,
                              flow_run_id: str | None = None) -> list[str]:
        """`_supersede_older` for many tools at once: {slug: newest verdict id}."""
        if not newest:
            return []
        slugs = list(newest)
        rows = con.execute(
            f"WITH st AS ({_STATUS_OF_SLUGS}) SELECT v.verdict_id, v.slug FROM st JOIN verdicts v USING (verdict_id) "
            "JOIN verdicts n ON n.slug = v.slug AND n.verdict_id IN (SELECT unnest(?::VARCHAR[])) "
            "WHERE st.decision = 'held' AND (v.created_at, v.verdict_id) < (n.created_at, n.verdict_id) "
            "ORDER BY v.created_at, v.verdict_id", [slugs, list(newest.values())]).fetchall()
        if rows:
            ts = now()
            con.execute("INSERT INTO decisions VALUES " + ", ".join("(?, ?, ?, ?, ?, ?, ?, ?, ?)" for _ in rows),
                        [x for vid, slug in rows
                         for x in (new_id("dc"), vid, slug, "superseded", [], editor, note, flow_run_id, ts)])
        return [vid for vid, _ in rows]

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
            held = con.execute("SELECT verdict_id, verdict FROM held_verdicts WHERE slug = ? ORDER BY created_at DESC, "
                               "verdict_id DESC", [slug]).fetchall()
            ids = [r[0] for r in held]
            if not ids or (verdict_id and verdict_id not in ids):
                return None
            target = verdict_id or ids[0]
            if decision == "approved" and dict(held)[target] == "incomplete":
                return {"slug": slug, "verdict_id": target, "decision": None, "refused": "incomplete"}
            decision_id = self._decide(con, target, slug, decision, editor=editor, note=note, flow_run_id=flow_run_id)
            superseded = self._supersede_older(con, slug, target, f"superseded: the editor {decision} {target}",
                                               editor, flow_run_id)
        return {"slug": slug, "verdict_id": target, "decision": decision, "decision_id": decision_id,
                "superseded": superseded, "editor": editor, "note": note}

    def verdict_outcomes(self, slug: str) -> dict[str, dict]:
        """verdict id -> what became of it: its latest decision (approved | auto | held | rejected |
        superseded), the hold reasons, the editor and when (one tool's verdict_status rows)."""
        return {r["verdict_id"]: r for r in self.query(
            "SELECT verdict_id, decision, reasons, editor, decided_at FROM verdict_status WHERE slug = ?", [slug])}

    def published_verdict(self, slug: str) -> dict | None:
        rows = self.query("SELECT * FROM published_verdicts WHERE slug = ?", [slug])
        return rows[0] if rows else None
