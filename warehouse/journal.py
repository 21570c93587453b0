"""The journal: paid work that could not be written because another process held the warehouse.

When the lock wait runs out, paid takes (and the end of their runs) are appended to
`<home>/journal/<host>-<pid>.jsonl` instead of being lost; the next command that writes replays
every journal file into the warehouse before its cache lookup, so nothing is paid for twice.
Each file is written by one process under an exclusive `flock`, and replayed under the same lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from pathlib import Path

import duckdb

from toolpanel.sections import HoldSettings
from toolpanel.models import Finding, Take, Verdict
from toolpanel.summaries import SummaryRecord


class Journaled:
    """What this process wrote to the journal (for the summary and the final line)."""

    takes = 0
    path: Path | None = None


def journal_dir(warehouse_path: Path) -> Path:
    return Path(warehouse_path).parent / "journal"


def append(warehouse_path: Path, entries: list[dict]) -> Path:
    """Append entries (one JSON line each) to this process's journal file, durably."""
    directory = journal_dir(warehouse_path)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{socket.gethostname()}-{os.getpid()}.jsonl"
    data = "".join(json.dumps(e, default=str) + "\n" for e in entries)
    while True:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.fstat(fd).st_nlink == 0:  # a replayer took the file away meanwhile: start a new one
                continue
            os.write(fd, data.encode())
            os.fsync(fd)
            break
        finally:
            os.close(fd)
    Journaled.takes += sum(len(e.get("items", [])) for e in entries if e["op"] == "takes")
    Journaled.path = path
    return path


def take_entry(items: list[tuple[str, Take]]) -> dict:
    return {"op": "takes", "items": [[run_id, t.model_dump(mode="json")] for run_id, t in items]}


def finish_entry(run_id: str, snapshot_hash: str, verdict: Verdict, paid_calls: int, cached: int,
                 status: str | None, hold=None, findings: list | None = None, layered: list = (),
                 summary: SummaryRecord | None = None) -> dict:
    """A run's end; with the hold settings and findings, so a replayed verdict meets the same hold rules, and
    the chair's summary, stored with the replayed verdict."""
    return {"op": "finish", "run_id": run_id, "snapshot_hash": snapshot_hash, "verdict": verdict.model_dump(),
            "paid_calls": paid_calls, "cached": cached, "status": status,
            "hold": hold.model_dump() if hold is not None else None,
            "findings": [f.model_dump() for f in findings or []],
            "layered": [[layer, f.model_dump()] for layer, f in layered],
            "summary": summary.model_dump(mode="json") if summary is not None else None}


def replay(store, con: duckdb.DuckDBPyConnection) -> int:
    """Store every journal file's entries (idempotently), then delete the file; returns takes stored."""
    directory = journal_dir(store.path)
    if not directory.is_dir():
        return 0
    stored = 0
    for path in sorted(directory.glob("*.jsonl")):
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its writer is appending right now; the next command picks it up
            if os.fstat(fd).st_nlink == 0:
                continue
            lines = path.read_text().splitlines()
            con.execute("BEGIN TRANSACTION")
            try:
                for line in lines:
                    if line.strip():
                        stored += _apply(store, con, json.loads(line))
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            path.unlink()
        finally:
            os.close(fd)
    return stored


def _apply(store, con: duckdb.DuckDBPyConnection, entry: dict) -> int:
    if entry["op"] == "takes":
        items = [(run_id, Take(**t)) for run_id, t in entry["items"]]
        known = {r[0] for r in con.execute("SELECT take_id FROM takes WHERE list_contains(?::VARCHAR[], take_id)",
                                           [[t.take_id for _, t in items]]).fetchall()}
        fresh = [(r, t) for r, t in items if t.take_id not in known]
        store.add_takes(fresh, con)
        return len(fresh)
    if entry["op"] == "finish":
        if not con.execute("SELECT 1 FROM run_results WHERE run_id = ?", [entry["run_id"]]).fetchone():
            verdict = Verdict(**entry["verdict"])
            layered = [(layer, Finding(**f)) for layer, f in entry.get("layered") or []]
            if layered:
                store.add_findings(entry["run_id"], verdict.tool_slug, entry["snapshot_hash"], layered, con)
            hold = HoldSettings(**entry["hold"]) if entry.get("hold") is not None else None
            store.finish_run(entry["run_id"], entry["snapshot_hash"], verdict, entry["paid_calls"], entry["cached"],
                             entry["status"], con, takes=store.takes_by_id(verdict.take_ids, con), hold=hold,
                             findings=[Finding(**f) for f in entry.get("findings") or []],
                             summary=SummaryRecord(**entry["summary"]) if entry.get("summary") else None)
        return 0
    raise ValueError(f"unknown journal entry {entry['op']!r}")
