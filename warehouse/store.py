"""DuckDB warehouse: append-only history of tools, runs, takes and verdicts.

Connections are short (one per transaction) so another process can get the file between
them; a lock held by someone else is waited out with backoff, never surfaced to the user.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import duckdb

from scoring.holds import hold_reasons
from toolpanel.models import Finding, Take, Tool, Verdict
from warehouse.migrations import migrate

_LOCK_WAIT_SECONDS = float(os.environ.get("TOOLPANEL_LOCK_WAIT", "60"))
_NOTICE_AFTER_SECONDS = 2.0  # a wait longer than this is said once (lock_notice), not per retry
_process_lock = threading.RLock()
_migrated: set[str] = set()
_busy: set[str] = set()  # warehouses whose lock wait ran out in this process: later opens try once, never wait
_HOLDER_PID = re.compile(r"\(PID (\d+)\)")

# Called once per process when a wait for another process's lock passes _NOTICE_AFTER_SECONDS, with
# the warehouse path, the holder's PID (from DuckDB's lock error, None if it does not say) and the
# longest wait. The CLI prints it; unset, nothing is said.
lock_notice: Callable[[Path, int | None, float], None] | None = None
_noticed = False

TAKE_COLUMNS = ("take_id", "run_id", "slug", "snapshot_hash", "persona_id", "persona_version", "model",
                "prompt_hash", "status", "score", "verdict", "paragraph", "evidence", "flags", "response_model",
                "output_mode", "tokens_in", "tokens_out", "latency_ms", "cost_usd", "error_class", "error",
                "created_at")


class LockStats:
    """How often, and how long, this process waited for another process's hold on the warehouse."""

    waits = 0
    seconds = 0.0


class WarehouseBusy(Exception):
    """Another process held the warehouse longer than the lock wait."""

    def __init__(self, message: str, holder_pid: int | None = None):
        super().__init__(message)
        self.holder_pid = holder_pid


def holder_pid(exc: Exception) -> int | None:
    """The PID DuckDB names in a lock error ("Conflicting lock is held in ... (PID 123)")."""
    m = _HOLDER_PID.search(str(exc))
    return int(m.group(1)) if m else None


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def new_id(prefix: str) -> str:
    # Time-ordered prefix keeps ids sortable by creation; random tail keeps them unique across processes.
    return f"{prefix}_{time.time_ns():x}{uuid.uuid4().hex[:8]}"


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc)
    return "lock" in text.lower() or "Conflicting lock" in text


class TakeInsert:
    """A GroupCommit op that stores takes; queued ones are merged into one INSERT."""

    def __init__(self, store: "Warehouse", items: list[tuple[str, Take]]):
        self.store, self.items = store, items

    def __call__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.store.add_takes(self.items, con)


class FinishRun:
    """A GroupCommit op that ends a run (and releases its claims); journaled if the warehouse is held."""

    def __init__(self, store: "Warehouse", run_id: str, snapshot_hash: str, verdict: Verdict, paid_calls: int,
                 cached: int, status: str | None = None, claims: Iterable[tuple] = (), *,
                 takes: list[Take] | None = None, hold=None, findings: list[Finding] | None = None):
        self.store, self.args, self.claims = store, (run_id, snapshot_hash, verdict, paid_calls, cached, status), claims
        self.rules = {"takes": takes, "hold": hold, "findings": findings}  # the hold rules' inputs

    def __call__(self, con: duckdb.DuckDBPyConnection) -> list[str]:
        reasons = self.store.finish_run(*self.args, con=con, **self.rules)
        self.store.release_claims(self.claims, con)
        return reasons


def _journal_entry(op) -> dict | None:
    """The journal line for an op that records paid work; None for ops that cannot wait (reads, run starts)."""
    from warehouse import journal

    if isinstance(op, TakeInsert):
        return journal.take_entry(op.items)
    if isinstance(op, FinishRun):
        return journal.finish_entry(*op.args, hold=op.rules["hold"], findings=op.rules["findings"])
    return None


class GroupCommit:
    """Concurrent writers of one process share short transactions: whoever finds the warehouse free
    runs everything queued so far in one transaction (each open costs ~20 ms, the writes almost nothing).
    A batch that fails is retried op by op, so one bad op never sinks the others."""

    def __init__(self, store: "Warehouse"):
        self.store = store
        self._pending: list = []
        self._lock = None

    async def run(self, op):
        import asyncio

        self._lock = self._lock or asyncio.Lock()
        fut = asyncio.get_running_loop().create_future()
        self._pending.append((op, fut))
        async with self._lock:
            if not fut.done():
                batch, self._pending = self._pending, []
                await asyncio.to_thread(self._apply, batch)
        return await fut

    def _apply(self, batch: list) -> None:
        try:
            self._apply_once(batch)
        except WarehouseBusy as busy:
            # Paid work is never lost to a held warehouse: it goes to the journal (replayed by the next
            # command that writes); what cannot wait (a read, a run start) fails for its own review.
            from warehouse import journal

            entries = [(fut, _journal_entry(op)) for op, fut in batch]
            saved = [e for _, e in entries if e is not None]
            if saved:
                journal.append(self.store.path, saved)
            for fut, entry in entries:
                fut.get_loop().call_soon_threadsafe(_settle, fut, None, None if entry is not None else busy)

    def _apply_once(self, batch: list) -> None:
        try:
            with self.store.transaction() as con:
                # Queued take inserts become one multi-row INSERT; other ops run in order.
                takes = [item for op, _ in batch if isinstance(op, TakeInsert) for item in op.items]
                self.store.add_takes(takes, con)
                results = [None if isinstance(op, TakeInsert) else op(con) for op, _ in batch]
        except Exception:
            for op, fut in batch:
                try:
                    with self.store.transaction() as con:
                        res = op(con)
                except WarehouseBusy:
                    raise
                except Exception as exc:  # noqa: BLE001 - handed to that op's caller
                    fut.get_loop().call_soon_threadsafe(_settle, fut, None, exc)
                else:
                    fut.get_loop().call_soon_threadsafe(_settle, fut, res, None)
            return
        for (_, fut), res in zip(batch, results):
            fut.get_loop().call_soon_threadsafe(_settle, fut, res, None)


def _settle(fut, result, exc) -> None:
    if fut.done():
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(result)


class Warehouse:
    def __init__(self, path: Path | str):
        self.path = Path(path)

    # -- connections -------------------------------------------------------------------------
    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived connection; waits (with backoff) while another process holds the file."""
        global _noticed
        self.path.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        # Once a wait has run out in this process, the warehouse is tried once, not waited for again.
        deadline = started + (0 if str(self.path) in _busy else _LOCK_WAIT_SECONDS)
        delay = 0.01
        waited = False
        with _process_lock:
            while True:
                try:
                    con = duckdb.connect(str(self.path), read_only=read_only)
                    break
                except duckdb.IOException as exc:
                    if not _is_lock_error(exc):
                        raise
                    pid = holder_pid(exc)
                    if time.monotonic() > deadline:
                        _busy.add(str(self.path))
                        raise WarehouseBusy(
                            f"{self.path}: another process{f' (PID {pid})' if pid else ''} held the warehouse for "
                            f"more than {_LOCK_WAIT_SECONDS:g} s", pid) from exc
                    if not _noticed and lock_notice and time.monotonic() - started > _NOTICE_AFTER_SECONDS:
                        _noticed = True
                        lock_notice(self.path, pid, _LOCK_WAIT_SECONDS)
                    waited = True
                    time.sleep(delay + random.random() * delay)
                    delay = min(delay * 2, 0.5)
            _busy.discard(str(self.path))
            if waited:
                LockStats.waits += 1
                LockStats.seconds += time.monotonic() - started
            try:
                if not read_only and str(self.path) not in _migrated:
                    migrate(con)
                    _migrated.add(str(self.path))
                if not read_only:
                    from warehouse import journal

                    journal.replay(self, con)  # paid work a held warehouse kept out, before anything reads
                yield con
            finally:
                con.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    @contextmanager
    def _tx(self, con: duckdb.DuckDBPyConnection | None) -> Iterator[duckdb.DuckDBPyConnection]:
        """Use the caller's transaction (group commit) or open a short one."""
        if con is not None:
            yield con
        else:
            with self.transaction() as own:
                yield own

    # -- writes ------------------------------------------------------------------------------
    def record_tool(self, tool: Tool, con: duckdb.DuckDBPyConnection | None = None) -> bool:
        """Record the tool and its snapshot; True if this snapshot is new."""
        with self._tx(con) as con:
            ts = now()
            con.execute("INSERT INTO tools VALUES (?, ?) ON CONFLICT DO NOTHING", [tool.slug, ts])
            exists = con.execute("SELECT 1 FROM tool_snapshots WHERE slug = ? AND snapshot_hash = ?",
                                 [tool.slug, tool.snapshot_hash]).fetchone()
            if exists:
                return False
            con.execute(
                "INSERT INTO tool_snapshots VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [tool.slug, tool.snapshot_hash, tool.name, tool.url, tool.category, tool.tagline, tool.pricing,
                 tool.entry, tool.launched, tool.description, tool.source, ts])
            return True

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
            rows.extend(row[c] for c in TAKE_COLUMNS)
            links.extend((run_id, take.take_id))
        one = "(" + ", ".join("?" for _ in TAKE_COLUMNS) + ")"
        with self._tx(con) as con:
            con.execute(f"INSERT INTO takes ({', '.join(TAKE_COLUMNS)}) VALUES " + ", ".join(one for _ in items), rows)
            con.execute("INSERT INTO run_takes VALUES " + ", ".join("(?, ?, false)" for _ in items)
                        + " ON CONFLICT DO NOTHING", links)

    def link_cached(self, run_id: str, takes: Iterable[Take], con: duckdb.DuckDBPyConnection | None = None) -> None:
        with self._tx(con) as con:
            for t in takes:
                con.execute("INSERT INTO run_takes VALUES (?, ?, true) ON CONFLICT DO NOTHING", [run_id, t.take_id])

    def finish_run(self, run_id: str, snapshot_hash: str, verdict: Verdict, paid_calls: int, cached: int,
                   status: str | None = None, con: duckdb.DuckDBPyConnection | None = None, *,
                   takes: list[Take] | None = None, hold=None, findings: list[Finding] | None = None) -> list[str]:
        """The run's end and (with quorum, unless it is being retried) its verdict and what became of it
        (`held` with the hold rules' reasons, or `auto`), in one transaction. Returns the hold reasons."""
        status = status or ("complete" if verdict.quorum_met else "incomplete")
        reasons: list[str] = []
        with self._tx(con) as con:
            con.execute("INSERT INTO run_results VALUES (?, ?, ?, ?, ?)", [run_id, status, now(), paid_calls, cached])
            if status == "complete":
                verdict_id = new_id("vd")
                published = _published(con, verdict.tool_slug)
                con.execute(
                    "INSERT INTO verdicts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [verdict_id, run_id, verdict.tool_slug, snapshot_hash, verdict.verdict, verdict.ship_count,
                     verdict.skip_count, verdict.abstain_count, verdict.failed_count, verdict.ship_pct,
                     verdict.mean_score, verdict.median_score, verdict.spread, verdict.split_panel,
                     verdict.take_ids, now()])
                if hold is not None:
                    reasons = hold_reasons(verdict, takes or [], published, findings or [], hold)
                if reasons:
                    self._decide(con, verdict_id, verdict.tool_slug, "held", reasons=reasons)
                else:
                    self._decide(con, verdict_id, verdict.tool_slug, "auto")
                    self._supersede_older(con, verdict.tool_slug, verdict_id, "a newer verdict was published")
        return reasons

    # -- decisions (holds and publication) ---------------------------------------------------------
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

    # -- claims: takes being paid for right now (m006) ------------------------------------------
    def claim_takes(self, keys: list[tuple[str, str, str, str]], lease_seconds: float,
                    con: duckdb.DuckDBPyConnection | None = None, have: Iterable[tuple] = ()) -> dict[tuple, tuple[int, str]]:
        """Claim the cache keys nobody else holds (except those in `have`, already cached); return the keys
        another process holds, with the holder (pid, host). A held key that is already cached means its
        run has not ended yet: the caller waits for that run's verdict too.

        Stale claims go first: a holder whose pid is gone on this host, or whose lease has passed."""
        if not keys:
            return {}
        host, pid, ts = socket.gethostname(), os.getpid(), now()
        with self._tx(con) as con:
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

    def persona_history(self, slug: str, con: duckdb.DuckDBPyConnection | None = None
                        ) -> dict[str, tuple[int, float, float]]:
        """Per persona: ok takes on other tools (differential copies excluded), their mean and standard deviation."""
        with self._tx(con) as con:
            rows = con.execute(
                "SELECT t.persona_id, count(*), avg(t.score), coalesce(stddev_samp(t.score), 0) FROM takes t "
                "JOIN runs r ON r.run_id = t.run_id WHERE t.status = 'ok' AND r.trigger <> 'differential' "
                "AND t.slug <> ? GROUP BY t.persona_id", [slug]).fetchall()
        return {pid: (n, float(mean), float(sd)) for pid, n, mean, sd in rows}

    # -- reads -------------------------------------------------------------------------------
    def cached_takes(self, keys: list[tuple[str, str, str, str]],
                     con: duckdb.DuckDBPyConnection | None = None) -> dict[tuple, Take]:
        """Latest usable (ok or abstained) take per cache key; failed takes are never a cache hit."""
        if not keys:
            return {}
        found: dict[tuple, Take] = {}
        wanted = set(keys)
        with self._tx(con) as con:
            # one query for all keys of a review (they share snapshot and prompt), newest first
            rows = con.execute(
                f"SELECT {', '.join(TAKE_COLUMNS)} FROM takes WHERE snapshot_hash IN (SELECT unnest(?::VARCHAR[])) "
                "AND prompt_hash IN (SELECT unnest(?::VARCHAR[])) AND status IN ('ok', 'abstained') "
                "ORDER BY created_at DESC, take_id DESC",
                [sorted({k[0] for k in keys}), sorted({k[2] for k in keys})]).fetchall()
        for row in rows:
            t = _take(row)
            if t.cache_key in wanted and t.cache_key not in found:
                found[t.cache_key] = t
        return found

    def verdict_with_takes(self, slug: str, take_ids: list[str], con: duckdb.DuckDBPyConnection | None = None) -> bool:
        """Is there already a verdict computed from exactly these takes?"""
        with self._tx(con) as con:
            row = con.execute("SELECT 1 FROM verdicts WHERE slug = ? AND list_sort(take_ids) = list_sort(?::VARCHAR[]) "
                              "LIMIT 1", [slug, sorted(take_ids)]).fetchone()
        return row is not None

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

    def all_tools(self) -> list[Tool]:
        return [_tool(r) for r in self.query("SELECT * FROM latest_snapshot ORDER BY slug")]

    def slugs(self) -> list[str]:
        return [r["slug"] for r in self.query("SELECT slug FROM tools ORDER BY slug")]

    def latest_verdict(self, slug: str) -> dict | None:
        rows = self.query("SELECT * FROM latest_verdicts WHERE slug = ?", [slug])
        return rows[0] if rows else None

    def history(self, slug: str) -> list[dict]:
        return self.query("SELECT * FROM run_history r LEFT JOIN verdicts v USING (run_id) "
                          "WHERE r.slug = ? ORDER BY r.started_at", [slug])

    # -- analyst snapshot --------------------------------------------------------------------
    def publish_snapshot(self, target: Path) -> Path:
        """Copy the warehouse to `target` atomically: readers see the old file or the new one, never half."""
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)
        with self.connect() as con:
            con.execute(f"ATTACH '{tmp}' AS snap")
            try:
                con.execute("COPY FROM DATABASE " + _db_name(con) + " TO snap")
            finally:
                con.execute("DETACH snap")
        _materialise(tmp)
        os.replace(tmp, target)
        Path(str(tmp) + ".wal").unlink(missing_ok=True)
        return target

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

    def record_ingest(self, source_runs: list[dict], rejections: list[dict], sightings: list[dict],
                      urls: list[dict]) -> None:
        """One ingest's facts in one transaction (append-only; a URL keeps the slug it was first given)."""
        with self.transaction() as con:
            for table, rows in (("source_runs", source_runs), ("rejections", rejections),
                                ("tool_sightings", sightings)):
                for row in rows:
                    con.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
                                list(row.values()))
            for row in urls:
                con.execute("INSERT INTO tool_urls (url_key, url, slug, source, first_seen) VALUES (?, ?, ?, ?, ?) "
                            "ON CONFLICT DO NOTHING",
                            [row["url_key"], row["url"], row["slug"], row["source"], row["first_seen"]])

    def source_status(self) -> list[dict]:
        """The latest run of every source ever read."""
        return self.query("SELECT * FROM source_status ORDER BY source")


# Views analysts read most, stored as tables in the snapshot: the pipeline's own file keeps them views
# (history is the truth), the snapshot is rebuilt after every batch anyway, so reading them costs a scan.
SNAPSHOT_MATERIALISED = ("latest_verdicts",)


def _materialise(path: Path) -> None:
    con = duckdb.connect(str(path))
    try:
        for view in SNAPSHOT_MATERIALISED:
            con.execute(f"CREATE TABLE {view}__m AS SELECT * FROM {view}")
            con.execute(f"DROP VIEW {view}")
            con.execute(f"ALTER TABLE {view}__m RENAME TO {view}")
    finally:
        con.close()


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


def _db_name(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute("SELECT current_database()").fetchone()[0]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _take(row: tuple) -> Take:
    d = dict(zip(TAKE_COLUMNS, row))
    d["tool_slug"] = d.pop("slug")
    d.pop("run_id")
    d["flags"] = list(d["flags"] or [])
    d["evidence"] = list(d["evidence"] or [])
    return Take(**d)


def _tool(row: dict) -> Tool:
    return Tool(**{k: row[k] for k in ("name", "slug", "url", "category", "tagline", "pricing", "entry",
                                        "launched", "description", "source")})
