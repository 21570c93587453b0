"""Reads: the take cache, takes, tools, verdicts, history, ingest state."""

from __future__ import annotations

from contextlib import nullcontext

import duckdb

from toolpanel.models import CarriedTake, Take, Tool
from warehouse.rows import TAKE_COLUMNS, _take, _tool


class Reads:
    """The read part of Warehouse (needs Connections)."""

    def persona_score_sums(self, con: duckdb.DuckDBPyConnection | None = None, exclude_runs: list[str] = (),
                           slugs: list[str] = ()) -> dict[tuple[str, str | None], tuple[int, float, float]]:
        """Ok takes (differential copies and `exclude_runs` left out): count, sum and sum of squares of their
        scores per (persona, tool) for the tools in `slugs`, and per (persona, None) for all other tools
        together (so the memory is what the batch needs, whatever the warehouse's history)."""
        with self._tx(con) as con:
            rows = con.execute(
                # differential runs as a small anti-join, not a join with every run: half the memory
                # (IN a subquery, not list_contains: a per-row list scan costs 20x on 1M takes)
                "SELECT t.persona_id, CASE WHEN t.slug IN (SELECT unnest(?::VARCHAR[])) THEN t.slug END AS own, "
                "count(*), sum(t.score), sum(t.score * t.score) FROM takes t "
                # round one only: the independent takes (a round-two take has read the others)
                "WHERE t.status = 'ok' AND t.score IS NOT NULL AND t.round = 1 "
                "AND t.run_id NOT IN (SELECT run_id FROM runs WHERE trigger = 'differential') "
                "AND t.run_id NOT IN (SELECT unnest(?::VARCHAR[])) GROUP BY ALL",
                [list(slugs), list(exclude_runs)]).fetchall()
        return {(pid, own): (n, float(total), float(squares)) for pid, own, n, total, squares in rows}

    def cached_takes(self, keys: list[tuple[str, str, str, str]],
                     con: duckdb.DuckDBPyConnection | None = None) -> dict[tuple, Take]:
        """Latest usable (ok or abstained) round-one take per cache key; failed takes are never a cache hit."""
        if not keys:
            return {}
        found: dict[tuple, Take] = {}
        wanted = set(keys)
        with self._tx(con) as con:
            # one query for all keys of a review (they share snapshot and prompt), newest first
            rows = con.execute(
                f"SELECT {', '.join(TAKE_COLUMNS)} FROM takes WHERE snapshot_hash IN (SELECT unnest(?::VARCHAR[])) "
                "AND prompt_hash IN (SELECT unnest(?::VARCHAR[])) AND status IN ('ok', 'abstained') AND round = 1 "
                "ORDER BY created_at DESC, take_id DESC",
                [sorted({k[0] for k in keys}), sorted({k[2] for k in keys})]).fetchall()
        for row in rows:
            t = _take(row)
            if t.cache_key in wanted and t.cache_key not in found:
                found[t.cache_key] = t
        return found

    def cached_second_round(self, wanted: dict[tuple, list[str]], con: duckdb.DuckDBPyConnection | None = None
                            ) -> dict[tuple, Take]:
        """Round-two takes (toolpanel.panel.rounds): per cache key, the newest usable one that saw exactly the
        round-one takes `wanted[key]` (same ids, same order: the prompt it answered). Never a round-one take."""
        if not wanted:
            return {}
        found: dict[tuple, Take] = {}
        with self._tx(con) as con:
            rows = con.execute(
                f"SELECT {', '.join(TAKE_COLUMNS)} FROM takes WHERE snapshot_hash IN (SELECT unnest(?::VARCHAR[])) "
                "AND round = 2 AND status IN ('ok', 'abstained') ORDER BY created_at DESC, take_id DESC",
                [sorted({k[0] for k in wanted})]).fetchall()
        for row in rows:
            t = _take(row)
            if wanted.get(t.cache_key) == t.seen_take_ids and t.cache_key not in found:
                found[t.cache_key] = t
        return found

    def verdict_with_takes(self, slug: str, take_ids: list[str], con: duckdb.DuckDBPyConnection | None = None) -> bool:
        """Is there already a verdict computed from exactly these takes?"""
        with self._tx(con) as con:
            row = con.execute("SELECT 1 FROM verdicts WHERE slug = ? AND list_sort(take_ids) = list_sort(?::VARCHAR[]) "
                              "LIMIT 1", [slug, sorted(take_ids)]).fetchone()
        return row is not None

    def current_takes(self, slug: str, snapshot_hash: str, persona_ids: list[str],
                      con: duckdb.DuckDBPyConnection | None = None) -> list[tuple[Take, CarriedTake]]:
        """These personas' current takes on this snapshot, for a partial re-review to carry: those of the
        published verdict, else (nothing of this snapshot published) of the newest verdict an editor has
        not rejected. Failed takes are not carried: they are no answer."""
        if not persona_ids:
            return []
        with self._tx(con) as con:
            row = con.execute(
                "WITH st AS (SELECT verdict_id, arg_max(decision, (created_at, decision_id)) AS decision "
                "FROM decisions WHERE slug = ? GROUP BY verdict_id) "
                "SELECT v.verdict_id, v.run_id, v.take_ids FROM verdicts v JOIN st USING (verdict_id) "
                "WHERE v.slug = ? AND v.snapshot_hash = ? AND st.decision <> 'rejected' AND v.verdict <> 'incomplete' "
                "ORDER BY st.decision IN ('approved', 'auto') DESC, v.created_at DESC, v.verdict_id DESC LIMIT 1",
                [slug, slug, snapshot_hash]).fetchone()
            if row is None:
                return []
            verdict_id, run_id, ids = row
            takes = [t for t in self.takes_by_id(list(ids), con)
                     if t.persona_id in persona_ids and t.status != "failed"]
        return [(t, CarriedTake(persona_id=t.persona_id, take_id=t.take_id, from_verdict_id=verdict_id,
                                from_run_id=run_id)) for t in sorted(takes, key=lambda t: t.persona_id)]

    def takes_by_id(self, take_ids: list[str], con: duckdb.DuckDBPyConnection | None = None) -> list[Take]:
        if not take_ids:
            return []
        with (nullcontext(con) if con is not None else self.connect()) as con:
            rows = con.execute(f"SELECT {', '.join(TAKE_COLUMNS)} FROM takes WHERE list_contains(?::VARCHAR[], take_id)",
                               [take_ids]).fetchall()
        return [_take(r) for r in rows]

    def run_takes(self, run_id: str) -> list[Take]:
        with self.connect() as con:
            rows = con.execute(f"SELECT {', '.join('t.' + c for c in TAKE_COLUMNS)} FROM run_takes rt "
                               "JOIN takes t USING (take_id) WHERE rt.run_id = ?", [run_id]).fetchall()
        return [_take(r) for r in rows]

    def query(self, sql: str, params: list | None = None) -> list[dict]:
        with self.connect() as con:
            cur = con.execute(sql, params or [])
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, row)) for row in cur.fetchall()]

    def latest_tool(self, slug: str) -> Tool | None:
        rows = self.query("SELECT * FROM latest_snapshot WHERE slug = ?", [slug])
        return _tool(rows[0]) if rows else None

    def latest_tools(self, slugs: list[str]) -> list[Tool]:
        """The latest snapshot of each of these tools (a batch reads its own, whatever the history)."""
        # list_contains, not IN (subquery): DuckDB then filters below the view's window (half the memory)
        return [_tool(r) for r in self.query("SELECT * FROM latest_snapshot WHERE list_contains(?::VARCHAR[], slug) "
                                             "ORDER BY slug", [sorted(set(slugs))])]

    def slugs(self) -> list[str]:
        return [r["slug"] for r in self.query("SELECT slug FROM tools ORDER BY slug")]

    def latest_verdict(self, slug: str) -> dict | None:
        rows = self.query("SELECT * FROM latest_verdicts WHERE slug = ?", [slug])
        return rows[0] if rows else None

    def history(self, slug: str) -> list[dict]:
        return self.query("SELECT * FROM run_history r LEFT JOIN verdicts v USING (run_id) "
                          "WHERE r.slug = ? ORDER BY r.started_at", [slug])

    # -- ingest: sources, rejections, sightings, URL identity (m004) ---------------------------
    def ingest_state(self) -> dict[str, list[dict]]:
        """What identity and enrichment need: URL -> slug rows (oldest first), latest snapshot URLs,
        and each (source, slug)'s latest sighting."""
        return {
            "urls": self.query("SELECT url_key, slug, source FROM tool_urls ORDER BY first_seen, url_key"),
            "snapshots": self.query("SELECT slug, url FROM latest_snapshot"),
            "sightings": self.query(
                "SELECT g.source, g.slug, g.item_hash, g.snapshot_hash, g.enriched, s.description FROM ("
                "SELECT *, row_number() OVER (PARTITION BY source, slug ORDER BY seen_at DESC) AS rn "
                "FROM tool_sightings WHERE snapshot_hash IS NOT NULL) g "
                "LEFT JOIN tool_snapshots s USING (slug, snapshot_hash) WHERE g.rn = 1"),
        }

    def source_status(self) -> list[dict]:
        """The latest run of every source ever read."""
        return self.query("SELECT * FROM source_status ORDER BY source")
