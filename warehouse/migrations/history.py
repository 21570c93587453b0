"""Migrations m005–m009: claims, run inputs, spend, eval."""

from __future__ import annotations

import duckdb


def m005_latest_verdicts_by_arg_max(con: duckdb.DuckDBPyConnection) -> None:
    """Same rows as before, 2.3x faster at a million takes: pick each tool's newest verdict id with
    arg_max, then join runs for those rows only (the window over the whole history was 119 ms)."""
    con.execute("DROP VIEW latest_verdicts")
    con.execute("""
        CREATE VIEW latest_verdicts AS
        WITH newest AS (SELECT arg_max(verdict_id, (created_at, verdict_id)) AS verdict_id FROM verdicts GROUP BY slug)
        SELECT v.slug, v.created_at, v.verdict, v.ship_count, v.skip_count, v.abstain_count, v.failed_count,
               v.ship_pct, v.mean_score, v.median_score, v.spread, v.split_panel,
               r.trigger, r.reason, r.forced, r.flow_run_id, v.run_id, v.snapshot_hash, v.verdict_id, v.take_ids
        FROM verdicts v JOIN newest USING (verdict_id) JOIN runs r ON r.run_id = v.run_id""")


def m006_take_claims(con: duckdb.DuckDBPyConnection) -> None:
    """Takes a process is about to pay for, so a second process waits for them instead of paying again.

    Claims are operational state, not history: a claim only says "someone is paying for this right
    now" and is deleted when the take lands or the review ends (or when its holder died or its lease
    ran out). Nothing is derived from old claims, so deleting them loses no fact; the takes and runs
    they lead to stay append-only. No primary key: claims are only written inside a transaction that
    first deletes stale ones, and DuckDB serialises writing processes on the file lock."""
    con.execute("""
        CREATE TABLE take_claims (
            snapshot_hash VARCHAR NOT NULL,
            persona_version VARCHAR NOT NULL,
            prompt_hash VARCHAR NOT NULL,
            model VARCHAR NOT NULL,
            pid INTEGER NOT NULL,
            host VARCHAR NOT NULL,
            claimed_at TIMESTAMP NOT NULL,
            expires_at TIMESTAMP NOT NULL   -- lease: a claimant on another host that vanished stops counting
        )""")


def m007_run_inputs(con: duckdb.DuckDBPyConnection) -> None:
    """What each run read, part by part (issue 12: "what changed, and why"): every prompt template's and
    persona file's content stored once by hash, and per run which hash of each it used. Runs recorded
    before this have no run_inputs rows: which template or persona field changed is unknown for them."""
    con.execute("""
        CREATE TABLE prompt_templates (
            template_hash VARCHAR PRIMARY KEY,
            name VARCHAR NOT NULL,             -- the name it was first seen under (system.j2, ...)
            content VARCHAR NOT NULL,
            first_seen TIMESTAMP NOT NULL
        )""")
    con.execute("""
        CREATE TABLE persona_files (
            persona_version VARCHAR PRIMARY KEY,  -- the file's content hash, as in takes.persona_version
            persona_id VARCHAR NOT NULL,
            content JSON NOT NULL,             -- the persona's fields
            first_seen TIMESTAMP NOT NULL
        )""")
    con.execute("""
        CREATE TABLE run_inputs (
            run_id VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,             -- template | persona
            name VARCHAR NOT NULL,             -- template file name or persona id
            hash VARCHAR NOT NULL,             -- prompt_templates.template_hash or persona_files.persona_version
            PRIMARY KEY (run_id, kind, name)
        )""")
    # Consecutive verdicts of a tool, and what differed between them. Booleans come from hashes every run
    # has always recorded; changed_templates is NULL when either run predates run_inputs (unknown).
    con.execute("""
        CREATE VIEW verdict_changes AS
        WITH v AS (
            SELECT v.slug, v.verdict_id, v.run_id, v.verdict, v.ship_pct, v.mean_score, v.take_ids, v.created_at,
                   v.snapshot_hash, r.prompt_hash, r.forced, r.trigger, r.reason,
                   lag(v.verdict_id) OVER w AS from_verdict_id
            FROM verdicts v JOIN runs r USING (run_id)
            WINDOW w AS (PARTITION BY v.slug ORDER BY v.created_at, v.verdict_id)),
        pairs AS (
            SELECT b.slug, a.run_id AS from_run_id, b.run_id AS to_run_id, a.verdict_id AS from_verdict_id,
                   b.verdict_id AS to_verdict_id, b.created_at AS changed_at, a.verdict AS from_verdict,
                   b.verdict AS to_verdict, a.ship_pct AS from_ship_pct, b.ship_pct AS to_ship_pct,
                   a.mean_score AS from_mean_score, b.mean_score AS to_mean_score, b.trigger, b.reason, b.forced,
                   a.snapshot_hash <> b.snapshot_hash AS snapshot_changed,
                   regexp_replace(trim(sa.description), '\s+', ' ', 'g')
                       <> regexp_replace(trim(sb.description), '\s+', ' ', 'g') AS description_changed,
                   a.prompt_hash <> b.prompt_hash AS templates_changed,
                   a.take_ids AS from_take_ids, b.take_ids AS to_take_ids
            FROM v b JOIN v a ON a.verdict_id = b.from_verdict_id
            JOIN tool_snapshots sa ON sa.slug = a.slug AND sa.snapshot_hash = a.snapshot_hash
            JOIN tool_snapshots sb ON sb.slug = b.slug AND sb.snapshot_hash = b.snapshot_hash),
        ids AS (
            SELECT to_verdict_id, 'from' AS side, unnest(from_take_ids) AS take_id FROM pairs
            UNION ALL
            SELECT to_verdict_id, 'to' AS side, unnest(to_take_ids) AS take_id FROM pairs),
        sides AS (SELECT i.to_verdict_id, i.side, t.* FROM ids i JOIN takes t USING (take_id)),
        deltas AS (
            SELECT coalesce(a.to_verdict_id, b.to_verdict_id) AS to_verdict_id,
                   coalesce(a.persona_id, b.persona_id) AS persona_id,
                   a.status AS from_status, b.status AS to_status, a.verdict AS from_verdict, b.verdict AS to_verdict,
                   a.score AS from_score, b.score AS to_score, b.score - a.score AS score_delta,
                   a.take_id = b.take_id AS same_take,
                   a.persona_version <> b.persona_version AS persona_changed,
                   a.model <> b.model AS model_changed, a.model AS from_model, b.model AS to_model
            FROM (SELECT * FROM sides WHERE side = 'from') a
            FULL OUTER JOIN (SELECT * FROM sides WHERE side = 'to') b
              ON a.to_verdict_id = b.to_verdict_id AND a.persona_id = b.persona_id),
        per_pair AS (
            SELECT to_verdict_id,
                   coalesce(bool_or(persona_changed), false) AS personas_changed,
                   list(persona_id ORDER BY persona_id) FILTER (WHERE persona_changed) AS changed_personas,
                   coalesce(bool_or(model_changed), false) AS model_changed,
                   list({persona_id: persona_id, from_status: from_status, to_status: to_status,
                         from_verdict: from_verdict, to_verdict: to_verdict, from_score: from_score,
                         to_score: to_score, score_delta: score_delta, same_take: same_take,
                         persona_changed: persona_changed, model_changed: model_changed,
                         from_model: from_model, to_model: to_model} ORDER BY persona_id) AS persona_deltas
            FROM deltas GROUP BY to_verdict_id),
        tmpl AS (
            SELECT run_id, map(list(name ORDER BY name), list(hash ORDER BY name)) AS hashes
            FROM run_inputs WHERE kind = 'template' GROUP BY run_id)
        SELECT p.slug, p.from_run_id, p.to_run_id, p.from_verdict_id, p.to_verdict_id, p.changed_at,
               p.from_verdict, p.to_verdict, p.from_verdict <> p.to_verdict AS verdict_flipped,
               p.from_ship_pct, p.to_ship_pct, p.from_mean_score, p.to_mean_score, p.trigger, p.reason,
               p.description_changed, p.snapshot_changed, d.personas_changed,
               coalesce(d.changed_personas, []::VARCHAR[]) AS changed_personas,
               p.templates_changed,
               CASE WHEN ta.hashes IS NULL OR tb.hashes IS NULL THEN NULL
                    ELSE list_sort(list_filter(list_distinct(map_keys(ta.hashes) || map_keys(tb.hashes)),
                                               lambda k: ta.hashes[k] IS DISTINCT FROM tb.hashes[k])) END AS changed_templates,
               d.model_changed,
               p.forced AND NOT p.snapshot_changed AND NOT p.templates_changed AND NOT d.personas_changed
                   AND NOT d.model_changed AS forced_identical,
               d.persona_deltas
        FROM pairs p JOIN per_pair d USING (to_verdict_id)
        LEFT JOIN tmpl ta ON ta.run_id = p.from_run_id
        LEFT JOIN tmpl tb ON tb.run_id = p.to_run_id""")


def m008_spend(con: duckdb.DuckDBPyConnection) -> None:
    """Every paid model call, one row each, for the budget (docs/budget.md): today's spend is read from here.

    Other paid work (eval, redteam) extends it: `CREATE OR REPLACE VIEW spend AS <this SELECT> UNION ALL
    SELECT 'eval', run_id, created_at, model, tokens_in, tokens_out, cost_usd FROM eval_items`. `run_id`
    lets a batch leave out its own rows (it counts those itself, as they land)."""
    con.execute("""
        CREATE VIEW spend AS
        SELECT 'review' AS kind, run_id, created_at, model, tokens_in, tokens_out, cost_usd FROM takes""")


def m009_eval(con: duckdb.DuckDBPyConnection) -> None:
    """Evaluation runs live beside production runs, never in them: their own runs, reviews and takes."""
    con.execute("""
        CREATE TABLE eval_runs (
            eval_run_id VARCHAR PRIMARY KEY,
            started_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP NOT NULL,
            model VARCHAR NOT NULL,            -- label: the model(s) that produced the figures
            models VARCHAR[] NOT NULL,
            prompt_hash VARCHAR NOT NULL,
            persona_versions JSON NOT NULL,
            gold JSON NOT NULL,                -- [{path, slug, verdict}]
            repeats INTEGER NOT NULL,
            shuffles BOOLEAN NOT NULL,
            settings JSON NOT NULL,
            figures JSON NOT NULL,
            tokens_in BIGINT, tokens_out BIGINT, cost_usd DOUBLE, wall_seconds DOUBLE
        )""")
    con.execute("""
        CREATE TABLE eval_items (
            eval_run_id VARCHAR NOT NULL,
            slug VARCHAR NOT NULL,
            gold_path VARCHAR NOT NULL,
            gold_verdict VARCHAR NOT NULL,
            repeat INTEGER NOT NULL,
            variant VARCHAR NOT NULL,          -- canonical | shuffled (persona order in the system prompt)
            persona_order VARCHAR[] NOT NULL,
            verdict VARCHAR NOT NULL,          -- ship | skip | incomplete
            ship_count INTEGER, skip_count INTEGER, abstain_count INTEGER, failed_count INTEGER,
            mean_score DOUBLE,
            correct BOOLEAN NOT NULL,
            PRIMARY KEY (eval_run_id, slug, repeat, variant)
        )""")
    con.execute("""
        CREATE TABLE eval_takes (
            take_id VARCHAR PRIMARY KEY,
            eval_run_id VARCHAR NOT NULL,
            slug VARCHAR NOT NULL, repeat INTEGER NOT NULL, variant VARCHAR NOT NULL,
            snapshot_hash VARCHAR NOT NULL,
            persona_id VARCHAR NOT NULL, persona_version VARCHAR NOT NULL,
            model VARCHAR NOT NULL, prompt_hash VARCHAR NOT NULL,
            status VARCHAR NOT NULL, score INTEGER, verdict VARCHAR, paragraph VARCHAR,
            evidence VARCHAR[],                -- NULL when the take contract carries no evidence
            flags VARCHAR[],
            output_mode VARCHAR, tokens_in INTEGER, tokens_out INTEGER, latency_ms INTEGER, cost_usd DOUBLE,
            error_class VARCHAR, error VARCHAR,
            created_at TIMESTAMP NOT NULL
        )""")
    # Eval calls are paid too: the budget's spend view counts them (docs/budget.md).
    con.execute("""
        CREATE OR REPLACE VIEW spend AS
        SELECT 'review' AS kind, run_id, created_at, model, tokens_in, tokens_out, cost_usd FROM takes
        UNION ALL
        SELECT 'eval', eval_run_id, created_at, model, tokens_in, tokens_out, cost_usd FROM eval_takes""")
