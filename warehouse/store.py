"""DuckDB warehouse: append-only history of tools, runs, takes and verdicts.

`Warehouse` is assembled from one part per job: connection (lock wait, migrations, journal replay),
writes, decisions, reads and the analyst snapshot; group commit lives in warehouse.groupcommit.
The names other modules import from here are re-exported.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

from warehouse import connection
from warehouse.connection import Connections, LockStats, WarehouseBusy, holder_pid
from warehouse.decisions import Decisions
from warehouse.groupcommit import FinishRun, GroupCommit, Look, TakeInsert
from warehouse.migrations import migrate
from warehouse.reads import Reads
from warehouse.rows import TAKE_COLUMNS, _take, _tool, new_id, now
from warehouse.snapshot import Snapshot
from warehouse.writes import Writes

__all__ = ["TAKE_COLUMNS", "FinishRun", "GroupCommit", "Look", "LockStats", "TakeInsert", "Warehouse", "WarehouseBusy",
           "_take", "_tool", "holder_pid", "migrate", "new_id", "now"]


class Warehouse(Connections, Writes, Decisions, Reads, Snapshot):
    def __init__(self, path: Path | str):
        self.path = Path(path)


class _StoreModule(types.ModuleType):
    """`warehouse.store.lock_notice = f` (how the CLI sets it) still reaches warehouse.connection,
    where the hook now lives; callers should set `warehouse.connection.lock_notice` directly."""

    def __setattr__(self, name, value):
        if name == "lock_notice":
            connection.lock_notice = value
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _StoreModule
