"""Bulk loader for benchmarks: rows identical in shape and meaning to the real write path, made in SQL.

Every run has five takes (one per persona, ~85% ok / 10% abstained / 5% failed, deterministic
pseudo-random scores), a run result, and - with quorum - a verdict computed by the same rules as
scoring.verdict (majority, tie -> mean >= 60). Use it only on an empty warehouse.
"""

from __future__ import annotations

from warehouse.store import Warehouse

PERSONAS = ["builder", "skeptic", "futurist", "founder", "creator"]


def bulk_load(store: Warehouse, *, takes: int, reviews_per_tool: int = 10, tools_per_category: int = 50) -> dict:
    runs = takes // len(PERSONAS)
    tools = max(1, runs // reviews_per_tool)
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
                   '{"builder":"v1"}', '{"builder":"bench-model"}', '{}', 0, 'bench', ts
            FROM g_runs""")
        con.execute(f"""
            CREATE TEMP TABLE g_takes AS
            SELECT r.run_id, r.slug, r.ts, p.i, p.persona_id,
                   hash(r.n * 7 + p.i) % 100 AS roll, 20 + hash(r.n * 13 + p.i) % 81 AS raw_score
            FROM g_runs r, (SELECT i, {PERSONAS}[i + 1] AS persona_id FROM range(5) g(i)) p""")
        con.execute("""
            INSERT INTO takes
            SELECT 'tk_' || run_id || '_' || persona_id, run_id, slug, 'snap-' || slug, persona_id, 'v1',
                   'bench-model', 'prompt-bench',
                   CASE WHEN roll < 85 THEN 'ok' WHEN roll < 95 THEN 'abstained' ELSE 'failed' END,
                   CASE WHEN roll < 85 THEN raw_score END,
                   CASE WHEN roll < 85 THEN (CASE WHEN raw_score >= 60 THEN 'ship' ELSE 'skip' END) END,
                   CASE WHEN roll < 95 THEN 'A bench paragraph standing in for the persona''s take on this tool.' END,
                   [], 'bench-model', 'json_schema', 1400, 110, 2300, NULL,
                   CASE WHEN roll >= 95 THEN 'APITimeoutError' END,
                   CASE WHEN roll >= 95 THEN 'Request timed out.' END,
                   ts + INTERVAL (i) SECOND,
                   CASE WHEN roll < 85 THEN ['a quote from the card'] END  -- evidence (column added by m006)
            FROM g_takes""")
        con.execute("INSERT INTO run_takes SELECT run_id, 'tk_' || run_id || '_' || persona_id, false FROM g_takes")
        con.execute("""
            CREATE TEMP TABLE g_v AS
            SELECT t.run_id, t.slug, max(t.created_at) AS ts,
                   count(*) FILTER (WHERE status = 'ok' AND verdict = 'ship') AS ships,
                   count(*) FILTER (WHERE status = 'ok' AND verdict = 'skip') AS skips,
                   count(*) FILTER (WHERE status = 'abstained') AS abst,
                   count(*) FILTER (WHERE status = 'failed') AS failed,
                   count(*) FILTER (WHERE status = 'ok') AS ok,
                   round(avg(score), 1) AS mean, median(score) AS med, max(score) - min(score) AS spread,
                   list_sort(list(take_id)) AS ids
            FROM takes t GROUP BY t.run_id, t.slug""")
        con.execute("""
            INSERT INTO run_results
            SELECT run_id, CASE WHEN ok >= 3 THEN 'complete' ELSE 'incomplete' END, ts, 5, 0 FROM g_v""")
        con.execute("""
            INSERT INTO verdicts
            SELECT 'vd_' || run_id, run_id, slug, 'snap-' || slug,
                   CASE WHEN ships > skips THEN 'ship' WHEN skips > ships THEN 'skip'
                        WHEN mean >= 60 THEN 'ship' ELSE 'skip' END,
                   ships, skips, abst, failed, round(100.0 * ships / (ships + skips), 1), mean, med, spread,
                   (least(ships, skips) / (ships + skips) >= 0.4) OR spread >= 40, ids, ts
            FROM g_v WHERE ok >= 3""")
        # bench verdicts are published as they come (no holds), like a warehouse from before holds
        con.execute("""
            INSERT INTO decisions SELECT 'dc_' || verdict_id, verdict_id, slug, 'auto', []::VARCHAR[], NULL, NULL,
                   NULL, created_at FROM verdicts""")
        con.execute("COMMIT")
        con.execute("CHECKPOINT")
    return {"tools": tools, "runs": runs, "takes": runs * len(PERSONAS), "sample_slug": "tool-00007"}
