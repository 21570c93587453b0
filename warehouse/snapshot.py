"""The analyst snapshot: a consistent copy of the warehouse, its most-read views stored as tables, without the
newsletter's subscribers and deliveries (readers' addresses are not analysis material)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb

from warehouse.migrations.newsletter import PRIVATE_TABLES, PRIVATE_VIEWS

# Views analysts read most, stored as tables in the snapshot: the pipeline's own file keeps them views
# (history is the truth), the snapshot is rebuilt after every batch anyway, so reading them costs a scan.
SNAPSHOT_MATERIALISED = ("latest_verdicts",)


def _scrub(con: duckdb.DuckDBPyConnection) -> None:
    """Drop what analysts never get (PRIVATE_*), then overwrite the file's free blocks: DuckDB leaves a dropped
    table's bytes (and those of older versions of any table) in free blocks until they are reused. A table of
    random, uncompressed numbers takes every free block, and is dropped again."""
    for view in PRIVATE_VIEWS:
        con.execute(f"DROP VIEW IF EXISTS {view}")
    for table in PRIVATE_TABLES:
        con.execute(f"DROP TABLE IF EXISTS {table}")
    con.execute("CHECKPOINT")
    free, block = con.execute("SELECT free_blocks, block_size FROM pragma_database_size()").fetchone()
    if free:
        con.execute("SET force_compression = 'uncompressed'")
        con.execute("CREATE TABLE snapshot__fill AS SELECT (random() * 9e18)::BIGINT AS x FROM range(?)",
                    [free * block // 8])
        con.execute("CHECKPOINT")
        con.execute("DROP TABLE snapshot__fill")
        con.execute("RESET force_compression")
        con.execute("CHECKPOINT")


def _materialise(path: Path) -> None:
    con = duckdb.connect(str(path))
    try:
        _scrub(con)
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
