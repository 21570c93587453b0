"""Schema migrations (owns: the warehouse schema): one ordered list of small functions, each applied once
and recorded by name. The list below is the one place their order is written; the functions live in
this package by era (base, history, trust, newsletter, panel, rounds). Adding one: a function in a file here, and its
name in the list.

A migration runs iff its NAME is not in schema_migrations, so inserting one in the middle of the list
applies just that one on an existing warehouse; the version column only numbers rows for display.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import duckdb

from warehouse.migrations.base import m001_core, m002_views, m003_community_votes, m004_ingest
from warehouse.migrations.history import (m005_latest_verdicts_by_arg_max, m006_take_claims, m007_run_inputs, m008_spend,
                                      m009_eval)
from warehouse.migrations.trust import (m010_decisions, m011_injection_findings, m012_take_evidence,
                                      m013_stale_count, m014_carried_takes, m015_screen_cache)
from warehouse.migrations.newsletter import m016_newsletter
from warehouse.migrations.panel import m017_panel_summary, m019_pair_answers
from warehouse.migrations.rounds import m018_take_rounds
from warehouse.rows import now


def migrate(con: duckdb.DuckDBPyConnection, migrations: Sequence[Callable] | None = None) -> list[str]:
    """Apply, in list order, every migration whose name is not recorded yet; returns the names applied."""
    con.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, "
                "applied_at TIMESTAMP)")
    done = {r[0] for r in con.execute("SELECT name FROM schema_migrations").fetchall()}
    applied = []
    for fn in MIGRATIONS if migrations is None else migrations:
        if fn.__name__ in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            fn(con)
            con.execute("INSERT INTO schema_migrations SELECT coalesce(max(version), 0) + 1, ?, ? "
                        "FROM schema_migrations", [fn.__name__, now()])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        applied.append(fn.__name__)
    return applied


MIGRATIONS = [m001_core, m002_views, m003_community_votes, m004_ingest, m005_latest_verdicts_by_arg_max,
              m006_take_claims, m007_run_inputs, m008_spend, m009_eval, m010_decisions, m011_injection_findings,
              m012_take_evidence, m013_stale_count, m014_carried_takes, m015_screen_cache, m016_newsletter,
              m017_panel_summary, m018_take_rounds, m019_pair_answers]
