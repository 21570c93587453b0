"""DuckDB warehouse: append-only history of tools, runs, takes and verdicts.

Connections are short (one per transaction) so another process can get the file between
them; a lock held by someone else is waited out with backoff, never surfaced to the user.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from toolpanel.models import Take, Tool, Verdict
from warehouse.migrations import MIGRATIONS

_LOCK_WAIT_SECONDS = float(os.environ.get("TOOLPANEL_LOCK_WAIT", "60"))
_process_lock = threading.RLock()
_migrated: set[str] = set()

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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        deadline = started + _LOCK_WAIT_SECONDS
        delay = 0.01
        waited = False
        with _process_lock:
            while True:
                try:
                    con = duckdb.connect(str(self.path), read_only=read_only)
                    break
                except duckdb.IOException as exc:
                    if not _is_lock_error(exc) or time.monotonic() > deadline:
                        if _is_lock_error(exc):
                            raise WarehouseBusy(f"{self.path}: another process held the warehouse for more than "
                                                f"{_LOCK_WAIT_SECONDS:.0f}s — let it finish, or raise "
                                                "TOOLPANEL_LOCK_WAIT") from exc
                        raise
                    waited = True
                    time.sleep(delay + random.random() * delay)
                    delay = min(delay * 2, 0.5)
            if waited:
                LockStats.waits += 1
                LockStats.seconds += time.monotonic() - started
            try:
                if not read_only and str(self.path) not in _migrated:
                    migrate(con)
                    _migrated.add(str(self.path))
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
                   status: str | None = None, con: duckdb.DuckDBPyConnection | None = None) -> None:
        """The run's end and (with quorum, unless it is being retried) its verdict, in one transaction."""
        status = status or ("complete" if verdict.quorum_met else "incomplete")
        with self._tx(con) as con:
            con.execute("INSERT INTO run_results VALUES (?, ?, ?, ?, ?)", [run_id, status, now(), paid_calls, cached])
            if status == "complete":
                con.execute(
                    "INSERT INTO verdicts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [new_id("vd"), run_id, verdict.tool_slug, snapshot_hash, verdict.verdict, verdict.ship_count,
                     verdict.skip_count, verdict.abstain_count, verdict.failed_count, verdict.ship_pct,
                     verdict.mean_score, verdict.median_score, verdict.spread, verdict.split_panel,
                     verdict.take_ids, now()])

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

    def takes_by_id(self, take_ids: list[str]) -> list[Take]:
        if not take_ids:
            return []
        with self.connect() as con:
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


def migrate(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply pending migrations in order; each is recorded in schema_migrations."""
    con.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, "
                "applied_at TIMESTAMP)")
    done = {r[0] for r in con.execute("SELECT version FROM schema_migrations").fetchall()}
    applied = []
    for version, fn in enumerate(MIGRATIONS, start=1):
        if version in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            fn(con)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", [version, fn.__name__, now()])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        applied.append(fn.__name__)
    return applied


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
