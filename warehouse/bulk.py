"""Bulk loader for benchmarks: rows identical in shape and meaning to the real write path, made in SQL.

Every run has one take per persona of the panel (~85% ok / 10% abstained / 5% failed, deterministic
pseudo-random scores), a run result, and - with quorum - a verdict computed by the panel's own rule:
the SQL that scoring.rules.verdict_sql generates from scoring.rules (tests/test_verdict_sql.py proves
it equal to scoring.rules.verdict). Takes are written under the columns of warehouse.rows.TAKE_COLUMNS.
Use it only on an empty warehouse.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from scoring.rules import SHIP_THRESHOLD, verdict_sql
from warehouse.rows import TAKE_COLUMNS
from warehouse.store import Warehouse

OK = "roll < 85"
FAILED = "roll >= 95"
# Each column of a bench take (warehouse.rows.TAKE_COLUMNS), as SQL over g_takes.
TAKE_SQL = {
    "take_id": "'tk_' || run_id || '_' || persona_id", "run_id": "run_id", "slug": "slug",
    "snapshot_hash": "'snap-' || slug", "persona_id": "persona_id", "persona_version": "'v1'",
    "model": "'bench-model'", "prompt_hash": "'prompt-bench'",
    "status": f"CASE WHEN {OK} THEN 'ok' WHEN roll < 95 THEN 'abstained' ELSE 'failed' END",
    "score": f"CASE WHEN {OK} THEN raw_score END",
    "verdict": f"CASE WHEN {OK} THEN (CASE WHEN raw_score >= {SHIP_THRESHOLD} THEN 'ship' ELSE 'skip' END) END",
    "paragraph": "CASE WHEN roll < 95 THEN 'A bench paragraph standing in for the persona''s take on this tool.' END",
    "evidence": f"CASE WHEN {OK} THEN ['a quote from the card'] END", "flags": "[]",
    "response_model": "'bench-model'", "output_mode": "'json_schema'", "tokens_in": "1400", "tokens_out": "110",
    "latency_ms": "2300", "cost_usd": "NULL", "error_class": f"CASE WHEN {FAILED} THEN 'APITimeoutError' END",
    "error": f"CASE WHEN {FAILED} THEN 'Request timed out.' END", "created_at": "ts + INTERVAL (i) SECOND",
    "round": "1", "seen_take_ids": "[]::VARCHAR[]",
}
assert set(TAKE_SQL) == set(TAKE_COLUMNS), "a bench take sets exactly the take's columns"


def configured_personas() -> list[str]:
    """The ids of the configured panel (toolpanel.toml's personas_dir), in display order."""
    from toolpanel.config import load_settings
    from toolpanel.panel.personas import load_personas

    return [p.id for p in load_personas(load_settings().personas_dir)]


def bulk_load(store: Warehouse, *, takes: int, reviews_per_tool: int = 10, tools_per_category: int = 50,
              personas: Sequence[str] | None = None) -> dict:
    """`personas`: the panel's persona ids (default: the configured personas)."""
    personas = list(personas) if personas is not None else configured_personas()
    runs = takes // len(personas)
    tools = max(1, runs // reviews_per_tool)
    per_persona = json.dumps({p: "v1" for p in personas}), json.dumps({p: "bench-model" for p in personas})
    with store.connect() as con:
        con.execute("BEGIN TRANSACTION")
        con.execute(f"""
            CREATE TEMP TABLE g_runs AS
            SELECT r AS n, r % {tools} AS t, r // {tools} AS k,
                   'tool-' || lpad(CAST(r % {tools} AS VARCHAR), 5, '0') AS slug,
                   'run_' || lpad(CAST(r AS VARCHAR), 9, '0') AS run_id,
                   TIMESTAMP '2026-01-01' + INTERVAL (r // {tools}) DAY + INTERVAL (r % {tools}) SECOND AS ts
            FROM range({runs}) g(r)""")
        con.execute("""
            INSERT INTO tools SELECT DISTINCT slug, TIMESTAMP '2026-01-01' FROM g_runs""")
        con.execute(f"""
            INSERT INTO tool_snapshots
            SELECT slug, 'snap-' || slug, 'Bench Tool ' || CAST(t AS VARCHAR), 'https://' || slug || '.example.com',
                   'Category ' || CAST(t // {tools_per_category} AS VARCHAR), 'Does thing ' || CAST(t AS VARCHAR),
                   'Free tier, then $10/month', 'Freemium', DATE '2026-01-01',
                   'Bench Tool ' || CAST(t AS VARCHAR) || ' is a developer tool that does one useful thing well.',
                   'bench', TIMESTAMP '2026-01-01'
            FROM (SELECT DISTINCT slug, t FROM g_runs)""")
        con.execute("""
            INSERT INTO runs SELECT run_id, slug, 'snap-' || slug, CASE WHEN k = 0 THEN 'daily' ELSE 'editor' END,
                   CASE WHEN k = 0 THEN 'new tool' ELSE 'bench re-review' END, NULL, k > 0, 'prompt-bench',
                   ?, ?, '{}', 0, 'bench', ts
            FROM g_runs""", list(per_persona))
        con.execute("""
            CREATE TEMP TABLE g_takes AS
            SELECT r.run_id, r.slug, r.ts, p.i, p.persona_id,
                   hash(r.n * 7 + p.i) % 100 AS roll, 20 + hash(r.n * 13 + p.i) % 81 AS raw_score
            FROM g_runs r, (SELECT i, list_extract(?::VARCHAR[], i + 1) AS persona_id FROM range(?) g(i)) p""",
                    [personas, len(personas)])
        con.execute(f"INSERT INTO takes ({', '.join(TAKE_COLUMNS)}) "
                    f"SELECT {', '.join(TAKE_SQL[c] for c in TAKE_COLUMNS)} FROM g_takes")
        con.execute("INSERT INTO run_takes SELECT run_id, 'tk_' || run_id || '_' || persona_id, false FROM g_takes")
        # the verdict of each run, with its last take's time
        timed = "(SELECT *, max(created_at) OVER (PARTITION BY run_id) AS ts FROM takes)"
        con.execute(f"CREATE TEMP TABLE g_v AS {verdict_sql(timed, ('run_id', 'slug', 'ts'))}")
        con.execute(f"""
            INSERT INTO run_results
            SELECT run_id, CASE WHEN quorum_met THEN 'complete' ELSE 'incomplete' END, ts, {len(personas)}, 0
            FROM g_v""")
        con.execute("""
            INSERT INTO verdicts
            SELECT 'vd_' || run_id, run_id, slug, 'snap-' || slug, verdict, ship_count, skip_count, abstain_count,
                   failed_count, ship_pct, mean_score, median_score, spread, split_panel, take_ids, ts,
                   NULL, NULL  -- band: readers compute it from the counts, as for verdicts from before m017
            FROM g_v WHERE quorum_met""")
        # bench verdicts are published as they come (no holds), like a warehouse from before holds
        con.execute("""
            INSERT INTO decisions SELECT 'dc_' || verdict_id, verdict_id, slug, 'auto', []::VARCHAR[], NULL, NULL,
                   NULL, created_at FROM verdicts""")
        con.execute("COMMIT")
        con.execute("CHECKPOINT")
    return {"tools": tools, "runs": runs, "takes": runs * len(personas), "sample_slug": "tool-00007"}
