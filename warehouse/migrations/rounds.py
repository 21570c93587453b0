"""Migration m018: the panel's second round (issue 27; `[panel] rounds = 2`, docs/panel.md).

A take says which round it belongs to (1 unless the panel deliberated) and, for round two, which round-one
takes its prompt showed (its persona's own first, then reviewers A, B, … in the order shown): a cached
round-two take is reused only for the same round-one takes. Eval takes carry the same two columns.
"""

from __future__ import annotations

import duckdb


def m018_take_rounds(con: duckdb.DuckDBPyConnection) -> None:
    for table in ("takes", "eval_takes"):
        con.execute(f"ALTER TABLE {table} ADD COLUMN round INTEGER DEFAULT 1")
        con.execute(f"ALTER TABLE {table} ADD COLUMN seen_take_ids VARCHAR[]")
