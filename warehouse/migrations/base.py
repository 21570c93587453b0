"""Migrations m001–m004: the base schema (tools, runs, takes, verdicts, views, votes, ingest)."""

from __future__ import annotations

import duckdb


def m001_core(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("""
        CREATE TABLE tools (
            slug VARCHAR PRIMARY KEY,
            first_seen TIMESTAMP NOT NULL
        )""")
    con.execute("""
        CREATE TABLE tool_snapshots (
            slug VARCHAR NOT NULL,
            snapshot_hash VARCHAR NOT NULL,
            name VARCHAR NOT NULL,
            url VARCHAR, category VARCHAR, tagline VARCHAR, pricing VARCHAR, entry VARCHAR,
            launched DATE,
            description VARCHAR NOT NULL,
            source VARCHAR,
            first_seen TIMESTAMP NOT NULL,
            PRIMARY KEY (slug, snapshot_hash)
        )""")
    con.execute("""
        CREATE TABLE runs (
            run_id VARCHAR PRIMARY KEY,
            slug VARCHAR NOT NULL,
            snapshot_hash VARCHAR NOT NULL,
            trigger VARCHAR NOT NULL,          -- cli | daily | editor
            reason VARCHAR,
            flow_run_id VARCHAR,
            forced BOOLEAN NOT NULL,
            prompt_hash VARCHAR NOT NULL,
            persona_versions JSON NOT NULL,    -- {persona_id: version}
            models JSON NOT NULL,              -- {persona_id: model}
            settings JSON NOT NULL,
            pid INTEGER, host VARCHAR,
            started_at TIMESTAMP NOT NULL
        )""")
    # A run's end is a fact of its own: runs are never updated.
    con.execute("""
        CREATE TABLE run_results (
            run_id VARCHAR PRIMARY KEY,
            status VARCHAR NOT NULL,           -- complete | incomplete
            finished_at TIMESTAMP NOT NULL,
            paid_calls INTEGER NOT NULL,
            cached_takes INTEGER NOT NULL
        )""")
    con.execute("""
        CREATE TABLE takes (
            take_id VARCHAR PRIMARY KEY,
            run_id VARCHAR NOT NULL,           -- the run that paid for it
            slug VARCHAR NOT NULL,
            snapshot_hash VARCHAR NOT NULL,
            persona_id VARCHAR NOT NULL,
            persona_version VARCHAR NOT NULL,
            model VARCHAR NOT NULL,
            prompt_hash VARCHAR NOT NULL,
            status VARCHAR NOT NULL,           -- ok | abstained | failed
            score INTEGER, verdict VARCHAR, paragraph VARCHAR,
            flags VARCHAR[],
            response_model VARCHAR, output_mode VARCHAR,
            tokens_in INTEGER, tokens_out INTEGER, latency_ms INTEGER, cost_usd DOUBLE,
            error_class VARCHAR, error VARCHAR,
            created_at TIMESTAMP NOT NULL
        )""")
    con.execute("CREATE INDEX takes_cache_key ON takes (snapshot_hash, persona_version, prompt_hash, model)")
    con.execute("""
        CREATE TABLE run_takes (
            run_id VARCHAR NOT NULL,
            take_id VARCHAR NOT NULL,
            cached BOOLEAN NOT NULL,
            PRIMARY KEY (run_id, take_id)
        )""")
    con.execute("""
        CREATE TABLE verdicts (
            verdict_id VARCHAR PRIMARY KEY,
            run_id VARCHAR NOT NULL,
            slug VARCHAR NOT NULL,
            snapshot_hash VARCHAR NOT NULL,
            verdict VARCHAR NOT NULL,
            ship_count INTEGER NOT NULL, skip_count INTEGER NOT NULL,
            abstain_count INTEGER NOT NULL, failed_count INTEGER NOT NULL,
            ship_pct DOUBLE, mean_score DOUBLE, median_score DOUBLE, spread INTEGER,
            split_panel BOOLEAN NOT NULL,
            take_ids VARCHAR[] NOT NULL,
            created_at TIMESTAMP NOT NULL
        )""")
    con.execute("CREATE INDEX verdicts_slug ON verdicts (slug)")


def m002_views(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("""
        CREATE VIEW latest_snapshot AS
        SELECT * EXCLUDE (rn) FROM (
            SELECT s.*, row_number() OVER (PARTITION BY slug ORDER BY first_seen DESC, snapshot_hash) AS rn
            FROM tool_snapshots s) WHERE rn = 1""")
    con.execute("""
        CREATE VIEW verdict_history AS
        SELECT v.slug, v.created_at, v.verdict, v.ship_count, v.skip_count, v.abstain_count, v.failed_count,
               v.ship_pct, v.mean_score, v.median_score, v.spread, v.split_panel,
               r.trigger, r.reason, r.forced, r.flow_run_id, v.run_id, v.snapshot_hash, v.verdict_id, v.take_ids
        FROM verdicts v JOIN runs r USING (run_id)""")
    con.execute("""
        CREATE VIEW latest_verdicts AS
        SELECT * EXCLUDE (rn) FROM (
            SELECT h.*, row_number() OVER (PARTITION BY h.slug ORDER BY h.created_at DESC, h.verdict_id) AS rn
            FROM verdict_history h) WHERE rn = 1""")
    con.execute("""
        CREATE VIEW run_history AS
        SELECT r.run_id, r.slug, r.trigger, r.reason, r.forced, r.flow_run_id, r.started_at,
               coalesce(x.status, 'running') AS status, x.finished_at, x.paid_calls, x.cached_takes,
               r.prompt_hash, r.snapshot_hash
        FROM runs r LEFT JOIN run_results x USING (run_id)""")
    con.execute("""
        CREATE VIEW persona_stats AS
        SELECT persona_id,
               count(*) AS takes,
               count(*) FILTER (WHERE status = 'ok') AS ok,
               count(*) FILTER (WHERE status = 'abstained') AS abstained,
               count(*) FILTER (WHERE status = 'failed') AS failed,
               round(100.0 * count(*) FILTER (WHERE verdict = 'ship' AND status = 'ok')
                     / nullif(count(*) FILTER (WHERE status = 'ok'), 0), 1) AS ship_rate_pct,
               round(avg(score) FILTER (WHERE status = 'ok'), 1) AS mean_score,
               sum(tokens_in) AS tokens_in, sum(tokens_out) AS tokens_out,
               sum(cost_usd) AS cost_usd,
               round(avg(latency_ms), 0) AS mean_latency_ms
        FROM takes GROUP BY persona_id""")


def m003_community_votes(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("""
        CREATE TABLE community_votes (
            vote_id VARCHAR PRIMARY KEY,
            slug VARCHAR NOT NULL,
            vote VARCHAR NOT NULL,             -- ship | skip
            voter VARCHAR,                     -- optional (CSV imports carry one)
            source VARCHAR NOT NULL,           -- cli | csv:<file>
            created_at TIMESTAMP NOT NULL
        )""")
    con.execute("""
        CREATE VIEW community_tally AS
        SELECT slug,
               count(*) FILTER (WHERE vote = 'ship') AS ship_votes,
               count(*) FILTER (WHERE vote = 'skip') AS skip_votes,
               count(*) AS votes,
               round(100.0 * count(*) FILTER (WHERE vote = 'ship') / count(*), 1) AS ship_pct
        FROM community_votes GROUP BY slug""")


def m004_ingest(con: duckdb.DuckDBPyConnection) -> None:
    """Sources: each read of a source, what it refused, where each tool was seen, which URL is which tool."""
    con.execute("""
        CREATE TABLE source_runs (
            source_run_id VARCHAR PRIMARY KEY,
            batch_id VARCHAR NOT NULL,         -- one ingest (daily run, review) reads several sources
            source VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,
            location VARCHAR,
            adhoc BOOLEAN NOT NULL,            -- named on the command line, not configured
            trigger VARCHAR NOT NULL,          -- daily | review
            status VARCHAR NOT NULL,           -- ok | failed (the source could not be read at all)
            error VARCHAR,
            items INTEGER NOT NULL,
            new_tools INTEGER NOT NULL, changed INTEGER NOT NULL, pending INTEGER NOT NULL,
            unchanged INTEGER NOT NULL, duplicates INTEGER NOT NULL, deferred INTEGER NOT NULL,
            rejected INTEGER NOT NULL,
            notes VARCHAR[],
            started_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP NOT NULL
        )""")
    con.execute("""
        CREATE TABLE rejections (
            rejection_id VARCHAR PRIMARY KEY,
            source_run_id VARCHAR NOT NULL,
            source VARCHAR NOT NULL,
            item VARCHAR,                      -- NULL: the whole source was refused
            url VARCHAR,
            field VARCHAR,
            reason VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL
        )""")
    con.execute("""
        CREATE TABLE tool_sightings (
            source_run_id VARCHAR NOT NULL,
            source VARCHAR NOT NULL,
            slug VARCHAR NOT NULL,
            url VARCHAR,
            item_hash VARCHAR,                 -- the item's own content, before enrichment
            snapshot_hash VARCHAR,             -- NULL for duplicates (another source speaks for the tool)
            enriched BOOLEAN NOT NULL,
            status VARCHAR NOT NULL,           -- new | changed | pending | unchanged | duplicate
            seen_at TIMESTAMP NOT NULL
        )""")
    con.execute("CREATE INDEX tool_sightings_slug ON tool_sightings (slug, source)")
    con.execute("""
        CREATE TABLE tool_urls (
            url_key VARCHAR PRIMARY KEY,       -- canonical URL without scheme and www.
            url VARCHAR NOT NULL,
            slug VARCHAR NOT NULL,
            source VARCHAR NOT NULL,           -- the source that first brought the URL in
            first_seen TIMESTAMP NOT NULL
        )""")
    con.execute("""
        CREATE VIEW tool_seen AS
        SELECT slug, source, min(seen_at) AS first_seen, max(seen_at) AS last_seen, count(*) AS sightings
        FROM tool_sightings GROUP BY slug, source""")
    con.execute("""
        CREATE VIEW source_status AS
        SELECT * EXCLUDE (rn) FROM (
            SELECT r.*, row_number() OVER (PARTITION BY source ORDER BY started_at DESC, source_run_id DESC) AS rn
            FROM source_runs r) WHERE rn = 1""")
