"""Connections to the warehouse file: short ones (one per transaction) so another process can get the
file between them; a lock held by someone else is waited out with backoff, never surfaced to the user.
The first write connection of a process runs pending migrations and replays the journal."""

from __future__ import annotations

import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from toolpanel.errors import MESSAGE_CAP, ExitCode, ToolpanelError
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


class LockStats:
    """How often, and how long, this process waited for another process's hold on the warehouse."""

    waits = 0
    seconds = 0.0


class WarehouseBusy(ToolpanelError):
    """Another process held the warehouse longer than the lock wait (exit 4): who holds it, and the fix."""

    code = ExitCode.WAREHOUSE_BUSY

    def __init__(self, path: Path | str, holder_pid: int | None = None, wait: float | None = None):
        from warehouse.journal import journal_dir

        self.path, self.holder_pid = Path(path), holder_pid
        self.wait = wait = _LOCK_WAIT_SECONDS if wait is None else wait
        who = f"another process (PID {holder_pid})" if holder_pid else "another process"
        journal = journal_dir(self.path)
        kept = f"; paid takes saved earlier stay in {journal} until then" if any(journal.glob("*.jsonl")) else ""
        super().__init__(
            f"the warehouse {self.path} is held by {who}: still held after the {wait:g} s lock wait",
            f"let that process finish, or close the warehouse there, then run again (analysts read "
            f"{self.path.parent / 'analyst.duckdb'}, never the warehouse; TOOLPANEL_LOCK_WAIT sets the wait){kept}")

    def message(self, cap: int = 2 * MESSAGE_CAP) -> str:  # our own words and three paths: whole by default
        return super().message(cap)

    def __reduce__(self):  # pickled (Prefect, threads) with its fields, not its message
        return self.__class__, (self.path, self.holder_pid, self.wait)


def holder_pid(exc: Exception) -> int | None:
    """The PID DuckDB names in a lock error ("Conflicting lock is held in ... (PID 123)")."""
    m = _HOLDER_PID.search(str(exc))
    return int(m.group(1)) if m else None



def _is_lock_error(exc: Exception) -> bool:
    text = str(exc)
    return "lock" in text.lower() or "Conflicting lock" in text



class Connections:
    """The connection part of Warehouse (needs `self.path`)."""

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
                        raise WarehouseBusy(self.path, pid) from exc
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
