"""Writes: tools, runs, takes, verdicts (with the hold rules' decision), claims, findings, ingest facts.
All append-only; each takes the caller's transaction (group commit) or opens a short one."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
from collections.abc import Iterable

import duckdb

from scoring.band import band
from scoring.holdrules import hold_reasons
from scoring.holdrules.abstained import ABSTAINED_REASON
from toolpanel.models import Finding, Take, Tool, Verdict
from toolpanel.summaries import SummaryRecord
from warehouse.decisions import published_of
from warehouse.rows import TAKE_COLUMNS, new_id, now


class Writes:
    """The write part of Warehouse (needs Connections and Decisions)."""

    def record_tool(self, tool: Tool, con: duckdb.DuckDBPyConnection | None = None) -> bool:
        """Record the tool and its snapshot; True if this snapshot is new."""
        return self.record_tools([tool], con)[0]

    def record_tools(self, tools: list[Tool], con: duckdb.DuckDBPyConnection | None = None) -> list[bool]:
        """`record_tool` for several tools in three statements; a snapshot listed twice is new only once."""
        with self._tx(con) as con:
            ts = now()
            _insert(con, "tools", list(dict.fromkeys((t.slug, ts) for t in tools)), tail=" ON CONFLICT DO NOTHING")
            known = set(con.execute(
                "SELECT slug, snapshot_hash FROM tool_snapshots WHERE snapshot_hash IN (SELECT unnest(?::VARCHAR[]))",
                [sorted({t.snapshot_hash for t in tools})]).fetchall())
            new, rows = [], []
            for t in tools:
                key = (t.slug, t.snapshot_hash)
                new.append(key not in known)
                if key not in known:
                    known.add(key)
                    rows.append((t.slug, t.snapshot_hash, t.name, t.url, t.category, t.tagline, t.pricing, t.entry,
                                 t.launched, t.description, t.source, ts))
            _insert(con, "tool_snapshots", rows)
        return new

    def start_run(self, *, tool: Tool, trigger: str, reason: str | None, forced: bool, prompt_hash: str,
                  persona_versions: dict[str, str], models: dict[str, str], settings: dict,
                  flow_run_id: str | None = None, con: duckdb.DuckDBPyConnection | None = None) -> str:
        run_id = new_id("run")
        host = socket.gethostname()
        with self._tx(con) as con:
            con.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [run_id, tool.slug, tool.snapshot_hash, trigger, reason, flow_run_id, forced, prompt_hash,
                 json.dumps(persona_versions), json.dumps(models), json.dumps(settings, default=str),
                 os.getpid(), host, now()])
        return run_id

    def close_abandoned(self, con: duckdb.DuckDBPyConnection | None = None) -> None:
        """Runs on this host whose process died (killed mid-batch) are marked abandoned (once per batch)."""
        with self._tx(con) as con:
            self._close_abandoned(con, socket.gethostname())

    @staticmethod
    def _close_abandoned(con: duckdb.DuckDBPyConnection, host: str) -> None:
        rows = con.execute(
            "SELECT r.run_id, r.pid FROM runs r LEFT JOIN run_results x USING (run_id) "
            "WHERE x.run_id IS NULL AND r.host = ?", [host]).fetchall()
        for run_id, pid in rows:
            if pid and not _pid_alive(pid):
                paid = con.execute("SELECT count(*) FROM takes WHERE run_id = ?", [run_id]).fetchone()[0]
                con.execute("INSERT INTO run_results VALUES (?, 'abandoned', ?, ?, 0)", [run_id, now(), paid])

    def add_takes(self, items: list[tuple[str, Take]], con: duckdb.DuckDBPyConnection | None = None) -> None:
        """Store several completed takes (run id, take) with one multi-row INSERT per table."""
        if not items:
            return
        rows, links = [], []
        for run_id, take in items:
            row = take.model_dump()
            row["run_id"] = run_id
            row["slug"] = take.tool_slug
            rows.append(tuple(row[c] for c in TAKE_COLUMNS))
            links.append((run_id, take.take_id, False))
        with self._tx(con) as con:
            _insert(con, "takes", rows, TAKE_COLUMNS)
            _insert(con, "run_takes", links, tail=" ON CONFLICT DO NOTHING")

    def link_cached(self, run_id: str, takes: Iterable[Take], con: duckdb.DuckDBPyConnection | None = None) -> None:
        with self._tx(con) as con:
            for t in takes:
                con.execute("INSERT INTO run_takes VALUES (?, ?, true) ON CONFLICT DO NOTHING", [run_id, t.take_id])

    def finish_run(self, run_id: str, snapshot_hash: str, verdict: Verdict, paid_calls: int, cached: int,
                   status: str | None = None, con: duckdb.DuckDBPyConnection | None = None, *,
                   takes: list[Take] | None = None, hold=None, findings: list[Finding] | None = None,
                   summary: SummaryRecord | None = None) -> list[str]:
        """The run's end and (with quorum, unless it is being retried) its verdict with its band and panel
        summary, and what became of it (`held` with the hold rules' reasons, or `auto`), in one transaction.
        Returns the hold reasons."""
        end = ((run_id, snapshot_hash, verdict, paid_calls, cached, status),
               {"takes": takes, "hold": hold, "findings": findings, "summary": summary})
        return self.finish_runs([end], con)[0]

    def finish_runs(self, ends: list[tuple[tuple, dict]], con: duckdb.DuckDBPyConnection | None = None
                    ) -> list[list[str]]:
        """`finish_run` for several runs of different tools: ((run_id, snapshot_hash, verdict, paid_calls,
        cached, status), {takes, hold, findings, summary}) each, written with a few multi-row statements instead of a
        handful per run. A tool ending twice in one call is ended one run at a time (each sees the other)."""
        slugs = [args[2].tool_slug for args, _ in ends]
        if len(set(slugs)) < len(slugs):
            return [self.finish_runs([end], con)[0] for end in ends]
        out: list[list[str]] = []
        results, verdicts, decisions, summaries, published_now = [], [], [], [], {}
        with self._tx(con) as con:
            ts = now()
            published = published_of(con, [a[2].tool_slug for a, r in ends if r.get("hold") is not None])
            for (run_id, snapshot_hash, verdict, paid_calls, cached, status), rules in ends:
                status = status or ("complete" if verdict.quorum_met else "incomplete")
                results.append((run_id, status, ts, paid_calls, cached))
                hold, slug = rules.get("hold"), verdict.tool_slug
                reasons: list[str] = []
                if hold is not None and status in ("complete", "incomplete"):
                    # An incomplete verdict is never published, but an editor should still hear why,
                    # e.g. every persona abstained because the card told them to.
                    reasons = hold_reasons(verdict, rules.get("takes") or [], published.get(slug),
                                           rules.get("findings") or [], hold)
                # A panel that abstained en masse (what an abstain-forcing card wants) gets no published
                # verdict, but its incomplete one is held, so it waits in the queue instead of vanishing.
                if status == "complete" or (status == "incomplete" and any(r.startswith(ABSTAINED_REASON)
                                                                           for r in reasons)):
                    verdict_id = new_id("vd")
                    b = band(verdict, rules.get("takes") or [])  # its confidence band (scoring/band.py)
                    verdicts.append((verdict_id, run_id, slug, snapshot_hash, verdict.verdict, verdict.ship_count,
                                     verdict.skip_count, verdict.abstain_count, verdict.failed_count, verdict.ship_pct,
                                     verdict.mean_score, verdict.median_score, verdict.spread, verdict.split_panel,
                                     verdict.take_ids, ts, b.word, b.label))
                    if (s := rules.get("summary")) is not None:  # the chair's summary, held and published with it
                        summaries.append((verdict_id, run_id, slug, s.status, s.error,
                                          s.summary.model_dump_json() if s.summary else None, json.dumps(s.letters),
                                          s.raw, s.model, s.tokens_in, s.tokens_out, s.cost_usd, ts))
                    decisions.append((new_id("dc"), verdict_id, slug, "held" if reasons else "auto", reasons,
                                      None, None, None, ts))
                    if not reasons:
                        published_now[slug] = verdict_id
                out.append(reasons)
            _insert(con, "run_results", results)
            _insert(con, "carried_takes", [(a[0], c.persona_id, c.take_id, c.from_verdict_id, c.from_run_id, ts)
                                           for a, _ in ends for c in a[2].carried])
            _insert(con, "verdicts", verdicts)
            _insert(con, "panel_summaries", summaries)
            _insert(con, "decisions", decisions)
            self._supersede_older_many(con, published_now, "a newer verdict was published")
        return out

    # -- claims: takes being paid for right now (m006) ------------------------------------------
    def claim_takes(self, keys: list[tuple[str, str, str, str]], lease_seconds: float,
                    con: duckdb.DuckDBPyConnection | None = None, have: Iterable[tuple] = (),
                    sweep: bool = True) -> dict[tuple, tuple[int, str]]:
        """Claim the cache keys nobody else holds (except those in `have`, already cached); return the keys
        another process holds, with the holder (pid, host). A held key that is already cached means its
        run has not ended yet: the caller waits for that run's verdict too.

        With `sweep`, stale claims go first: a holder whose pid is gone on this host, or whose lease has
        passed. A batch sweeps once, and again whenever it finds a key held."""
        if not keys:
            return {}
        host, pid, ts = socket.gethostname(), os.getpid(), now()
        with self._tx(con) as con:
            if sweep:
                con.execute("DELETE FROM take_claims WHERE expires_at < ?", [ts])
                for (claim_pid,) in con.execute("SELECT DISTINCT pid FROM take_claims WHERE host = ? AND pid <> ?",
                                                [host, pid]).fetchall():
                    if not _pid_alive(claim_pid):
                        con.execute("DELETE FROM take_claims WHERE host = ? AND pid = ?", [host, claim_pid])
            held = {}
            for row in con.execute(
                    "SELECT snapshot_hash, persona_version, prompt_hash, model, pid, host FROM take_claims "
                    "WHERE snapshot_hash IN (SELECT unnest(?::VARCHAR[])) AND NOT (pid = ? AND host = ?)",
                    [sorted({k[0] for k in keys}), pid, host]).fetchall():
                held[tuple(row[:4])] = (row[4], row[5])
            have = set(have)
            mine = [k for k in keys if k not in held and k not in have]
            if mine:
                expires = ts + dt.timedelta(seconds=lease_seconds)
                con.execute("INSERT INTO take_claims VALUES " + ", ".join("(?, ?, ?, ?, ?, ?, ?, ?)" for _ in mine),
                            [v for k in mine for v in (*k, pid, host, ts, expires)])
        return {k: v for k, v in held.items() if k in set(keys)}

    def release_claims(self, keys: Iterable[tuple[str, str, str, str]],
                       con: duckdb.DuckDBPyConnection | None = None) -> None:
        """Drop this process's claims on `keys` (the take landed or the review ended)."""
        keys = list(keys)
        if not keys:
            return
        with self._tx(con) as con:
            con.execute("DELETE FROM take_claims WHERE pid = ? AND host = ? AND "
                        "list_contains(?::VARCHAR[], snapshot_hash || '|' || persona_version || '|' || prompt_hash "
                        "|| '|' || model)", [os.getpid(), socket.gethostname(), ["|".join(k) for k in keys]])

    # -- issue 13: findings and differential reviews (append-only) -------------------------------
    def add_findings(self, run_id: str, slug: str, snapshot_hash: str, findings: list[tuple[str, object]],
                     con: duckdb.DuckDBPyConnection | None = None) -> None:
        """(layer, Finding) pairs about a run's verdict."""
        with self._tx(con) as con:
            for layer, f in findings:
                con.execute("INSERT INTO findings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            [new_id("fd"), run_id, slug, snapshot_hash, layer, f.field, f.span, f.rule, f.severity,
                             now()])

    def add_differential(self, rows: list[dict], con: duckdb.DuckDBPyConnection | None = None) -> None:
        with self._tx(con) as con:
            for r in rows:
                con.execute("INSERT INTO differential_reviews VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                            [r["run_id"], r["differential_run_id"], r["slug"], r["snapshot_hash"], r["neutral_hash"],
                             r["persona_id"], r["take_id"], r["neutral_take_id"], r["steered"], now()])

    def record_ingest(self, source_runs: list[dict], rejections: list[dict], sightings: list[dict],
                      urls: list[dict]) -> None:
        """One ingest's facts in one transaction (append-only; a URL keeps the slug it was first given)."""
        with self.transaction() as con:
            for table, rows in (("source_runs", source_runs), ("rejections", rejections),
                                ("tool_sightings", sightings)):
                _insert_rows(con, table, rows)
            _insert_rows(con, "tool_urls", [{k: row[k] for k in ("url_key", "url", "slug", "source", "first_seen")}
                                            for row in urls], " ON CONFLICT DO NOTHING")


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[tuple], columns: tuple[str, ...] = (),
            tail: str = "", per_statement: int = 500) -> None:
    """Rows of one table (`columns`, else every column in order) as multi-row INSERTs."""
    names = f" ({', '.join(columns)})" if columns else ""
    for i in range(0, len(rows), per_statement):
        part = rows[i:i + per_statement]
        one = "(" + ", ".join("?" for _ in part[0]) + ")"
        con.execute(f"INSERT INTO {table}{names} VALUES " + ", ".join(one for _ in part) + tail,
                    [v for row in part for v in row])


def _insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict], tail: str = "") -> None:
    """Rows given as {column: value}: one multi-row INSERT per shape of row."""
    shapes: dict[tuple, list[tuple]] = {}
    for row in rows:
        shapes.setdefault(tuple(row), []).append(tuple(row.values()))
    for columns, values in shapes.items():
        _insert(con, table, values, columns, tail)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
