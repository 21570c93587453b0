"""DuckDB warehouse: append-only history of tools, runs, takes and verdicts, and its group commit.

`Warehouse` is assembled from one part per job: connection (lock wait, migrations, journal replay),
writes, decisions, reads and the analyst snapshot. Group commit: concurrent writers of one process share
short transactions, and paid work a held warehouse keeps out goes to the journal.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import duckdb

from toolpanel.models import Finding, Take, Verdict
from toolpanel.summaries import SummaryRecord
from warehouse.connection import Connections, WarehouseBusy
from warehouse.decisions import Decisions
from warehouse.reads import Reads
from warehouse.snapshot import Snapshot
from warehouse.writes import Writes


class Warehouse(Connections, Writes, Decisions, Reads, Snapshot):
    def __init__(self, path: Path | str):
        self.path = Path(path)



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
                 takes: list[Take] | None = None, hold=None, findings: list[Finding] | None = None,
                 layered: list[tuple[str, Finding]] = (), summary: SummaryRecord | None = None):
        self.store, self.args, self.claims = store, (run_id, snapshot_hash, verdict, paid_calls, cached, status), claims
        # the hold rules' inputs, and the chair's summary stored with the verdict
        self.rules = {"takes": takes, "hold": hold, "findings": findings, "summary": summary}
        self.layered = list(layered)  # (layer, finding) rows stored with the verdict they are about

    def __call__(self, con: duckdb.DuckDBPyConnection) -> list[str]:
        return self.many([self], con)[0]

    @staticmethod
    def many(ops: list["FinishRun"], con: duckdb.DuckDBPyConnection) -> list[list[str]]:
        """Several runs' ends in one go (what a group commit queued): a few statements, not a few per run."""
        for op in ops:
            if op.layered:
                run_id, snapshot_hash, verdict = op.args[:3]
                op.store.add_findings(run_id, verdict.tool_slug, snapshot_hash, op.layered, con)
        reasons = ops[0].store.finish_runs([(op.args, op.rules) for op in ops], con)
        ops[0].store.release_claims([k for op in ops for k in op.claims], con)
        return reasons


class Look:
    """A GroupCommit op: a review's first look at the warehouse (its tool and snapshot recorded, cached takes,
    claims on the rest). Queued looks share a few statements instead of a few each."""

    def __init__(self, store: "Warehouse", tool, keys: list[tuple], *, force: bool, claim: bool, lease: float,
                 first: bool, spend):
        self.store, self.tool, self.keys = store, tool, keys
        self.force, self.claim, self.lease, self.first, self.spend = force, claim, lease, first, spend

    def __call__(self, con: duckdb.DuckDBPyConnection) -> tuple[bool, dict, dict]:
        return self.many([self], con)[0]

    @staticmethod
    def many(ops: list["Look"], con: duckdb.DuckDBPyConnection) -> list[tuple[bool, dict, dict]]:
        """Per look: (snapshot is new, cached takes by key, keys another process holds → holder)."""
        store = ops[0].store
        if any(op.first for op in ops):  # once per batch, inside its first transaction
            store.close_abandoned(con)
        for spend in {id(op.spend): op.spend for op in ops}.values():
            spend.refresh(con)  # today's spend by others (only with a daily cap)
        new = store.record_tools([op.tool for op in ops], con)
        wanted = list(dict.fromkeys(k for op in ops if not op.force for k in op.keys))
        found = store.cached_takes(wanted, con) if wanted else {}
        claiming = list(dict.fromkeys(k for op in ops if op.claim for k in op.keys))
        # stale claims: swept by a batch's first look, then whenever one is met (the caller's wait loop)
        held = store.claim_takes(claiming, max(op.lease for op in ops), con, have=set(found),
                                 sweep=any(op.first for op in ops)) if claiming else {}
        return [(is_new, {} if op.force else {k: found[k] for k in op.keys if k in found},
                 {k: held[k] for k in op.keys if k in held} if op.claim else {}) for op, is_new in zip(ops, new)]


def _journal_entry(op) -> dict | None:
    """The journal line for an op that records paid work; None for ops that cannot wait (reads, run starts)."""
    from warehouse import journal

    if isinstance(op, TakeInsert):
        return journal.take_entry(op.items)
    if isinstance(op, FinishRun):
        return journal.finish_entry(*op.args, hold=op.rules["hold"], findings=op.rules["findings"], layered=op.layered,
                                    summary=op.rules["summary"])
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
                # Queued take inserts become one multi-row INSERT, queued run ends and first looks a few
                # statements each (ends before looks, so a look sees the claims they release); others in order.
                takes = [item for op, _ in batch if isinstance(op, TakeInsert) for item in op.items]
                self.store.add_takes(takes, con)
                ends = [op for op, _ in batch if isinstance(op, FinishRun)]
                done = dict(zip(map(id, ends), FinishRun.many(ends, con))) if ends else {}
                looks = [op for op, _ in batch if isinstance(op, Look)]  # after the ends: they release claims
                done.update(zip(map(id, looks), Look.many(looks, con)) if looks else {})
                results = [None if isinstance(op, TakeInsert) else done[id(op)] if id(op) in done
                           else op(con) for op, _ in batch]
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
