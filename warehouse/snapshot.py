"""The analyst snapshot: a consistent copy of the warehouse, its most-read views stored as tables."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb

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


class Snapshot:
    """The snapshot part of Warehouse (needs Connections)."""

    def publish_snapshot(self, target: Path) -> Path:
        """Copy the warehouse to `target` atomically: readers see the old file or the new one, never half."""
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)
        with self.connect() as con:
            # The file itself, checkpointed, copied while this connection keeps every writer out: memory
            # stays flat whatever the history (COPY FROM DATABASE held ~2x the file in memory) and it is
            # a plain sequential copy.
            con.execute("CHECKPOINT")
            shutil.copyfile(self.path, tmp)
        _materialise(tmp)
        os.replace(tmp, target)
        Path(str(tmp) + ".wal").unlink(missing_ok=True)
        return target
