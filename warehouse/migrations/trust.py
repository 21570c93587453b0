"""Migrations m010–m015: decisions (holds), injection findings, take evidence, stale runs, carried takes,
the model screen's cache."""

from __future__ import annotations

import duckdb


VERDICT_COLUMNS = """v.slug, v.created_at, v.verdict, v.ship_count, v.skip_count, v.abstain_count, v.failed_count,
               v.ship_pct, v.mean_score, v.median_score, v.spread, v.split_panel,
               r.trigger, r.reason, r.forced, r.flow_run_id, v.run_id, v.snapshot_hash, v.verdict_id, v.take_ids"""


def m010_decisions(con: duckdb.DuckDBPyConnection) -> None:
    """Holds and publication: what became of each verdict is a row (held, approved, rejected, auto,
    superseded); "published" is a view over those rows. Every verdict that exists before this migration
    was published at the time, so each gets `auto` and nothing disappears on upgrade."""
    con.execute("""
        CREATE TABLE decisions (
            decision_id VARCHAR PRIMARY KEY,
            verdict_id VARCHAR NOT NULL,
            slug VARCHAR NOT NULL,
            decision VARCHAR NOT NULL,         -- held | approved | rejected | auto | superseded
            reasons VARCHAR[] NOT NULL,        -- why it was held (empty otherwise)
            editor VARCHAR,                    -- NULL: decided by the pipeline
            note VARCHAR,
            flow_run_id VARCHAR,               -- the review-queue run that recorded it, if any
            created_at TIMESTAMP NOT NULL
        )""")
    con.execute("CREATE INDEX decisions_verdict ON decisions (verdict_id)")
    con.execute("""
        INSERT INTO decisions
        SELECT 'dc_migrated_' || verdict_id, verdict_id, slug, 'auto', []::VARCHAR[], NULL,
               'published before holds existed', NULL, created_at
        FROM verdicts""")
    # The latest decision of every verdict (decisions are appended, never updated).
    con.execute("""
        CREATE VIEW verdict_status AS
        SELECT verdict_id, any_value(slug) AS slug,
               arg_max(decision, (created_at, decision_id)) AS decision,
               arg_max(reasons, (created_at, decision_id)) AS reasons,
               arg_max(editor, (created_at, decision_id)) AS editor,
               arg_max(note, (created_at, decision_id)) AS note,
               arg_max(flow_run_id, (created_at, decision_id)) AS flow_run_id,
               max(created_at) AS decided_at
        FROM decisions GROUP BY verdict_id""")
    con.execute(f"""
        CREATE VIEW published_history AS
        SELECT {VERDICT_COLUMNS}, s.decision, s.editor, s.decided_at
        FROM verdicts v JOIN verdict_status s USING (verdict_id) JOIN runs r ON r.run_id = v.run_id
        WHERE s.decision IN ('approved', 'auto')""")
    # Like latest_verdicts (m005): pick each tool's newest published verdict id on narrow columns first,
    # then join the wide rows for those only.
    con.execute(f"""
        CREATE VIEW published_verdicts AS
        WITH ok AS (SELECT verdict_id, decision, editor, decided_at FROM verdict_status
                    WHERE decision IN ('approved', 'auto')),
             newest AS (SELECT arg_max(v.verdict_id, (v.created_at, v.verdict_id)) AS verdict_id
                        FROM verdicts v JOIN ok USING (verdict_id) GROUP BY v.slug)
        SELECT {VERDICT_COLUMNS}, ok.decision, ok.editor, ok.decided_at
        FROM verdicts v JOIN newest USING (verdict_id) JOIN ok USING (verdict_id) JOIN runs r ON r.run_id = v.run_id""")
    # The queue: held verdicts newer than what the tool has published (older ones are stale).
    con.execute(f"""
        CREATE VIEW held_verdicts AS
        SELECT {VERDICT_COLUMNS}, s.reasons, s.decided_at AS held_at
        FROM verdicts v JOIN verdict_status s USING (verdict_id) JOIN runs r ON r.run_id = v.run_id
        LEFT JOIN published_verdicts p ON p.slug = v.slug
        WHERE s.decision = 'held' AND (p.verdict_id IS NULL OR (v.created_at, v.verdict_id) > (p.created_at, p.verdict_id))""")


def m011_injection_findings(con: duckdb.DuckDBPyConnection) -> None:
    """Issue 13: what screening, the differential review and the take checks found (append-only), and the
    differential review itself: each persona's take on the original text beside its take on the copy
    with the flagged spans removed. The copy is never a tool snapshot; its takes live in `takes` under
    the copy's content hash (so they are cached like any take) and belong to a run with trigger
    'differential' that never has a verdict."""
    con.execute("""
        CREATE TABLE findings (
            finding_id VARCHAR PRIMARY KEY,
            run_id VARCHAR NOT NULL,           -- the review run whose verdict the finding is about
            slug VARCHAR NOT NULL,
            snapshot_hash VARCHAR NOT NULL,    -- the tool snapshot the panel read
            layer VARCHAR NOT NULL,            -- screening | differential | take_check
            field VARCHAR NOT NULL,            -- description, tagline, ... or take:<persona> / panel
            span VARCHAR NOT NULL,
            rule VARCHAR NOT NULL,
            severity VARCHAR NOT NULL,         -- hold | warn | info
            created_at TIMESTAMP NOT NULL
        )""")
    con.execute("CREATE INDEX findings_snapshot ON findings (slug, snapshot_hash)")
    con.execute("""
        CREATE TABLE differential_reviews (
            run_id VARCHAR NOT NULL,           -- the review of the original text
            differential_run_id VARCHAR NOT NULL,
            slug VARCHAR NOT NULL,
            snapshot_hash VARCHAR NOT NULL,
            neutral_hash VARCHAR NOT NULL,     -- content hash of the neutralised copy
            persona_id VARCHAR NOT NULL,
            take_id VARCHAR,                   -- on the original text
            neutral_take_id VARCHAR,           -- on the neutralised copy
            steered BOOLEAN NOT NULL,
            created_at TIMESTAMP NOT NULL,
            PRIMARY KEY (run_id, persona_id)
        )""")
    # A differential review is evidence about another run, not a review of the tool: it stays out of
    # run history ("latest run", "re-review under way") and out of the personas' statistics.
    con.execute("DROP VIEW run_history")
    con.execute("""
        CREATE VIEW run_history AS
        SELECT r.run_id, r.slug, r.trigger, r.reason, r.forced, r.flow_run_id, r.started_at,
               coalesce(x.status, 'running') AS status, x.finished_at, x.paid_calls, x.cached_takes,
               r.prompt_hash, r.snapshot_hash
        FROM runs r LEFT JOIN run_results x USING (run_id) WHERE r.trigger <> 'differential'""")
    con.execute("DROP VIEW persona_stats")
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
        FROM takes WHERE run_id NOT IN (SELECT run_id FROM runs WHERE trigger = 'differential')
        GROUP BY persona_id""")


def m012_take_evidence(con: duckdb.DuckDBPyConnection) -> None:
    """Takes quote the card they rest on; persona_stats gains the share of positions whose quotes were all
    found in the card (flag 'ungrounded' absent). Takes written before this have no evidence (NULL)."""
    con.execute("ALTER TABLE takes ADD COLUMN evidence VARCHAR[]")
    con.execute("""
        CREATE OR REPLACE VIEW persona_stats AS
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
               round(avg(latency_ms), 0) AS mean_latency_ms,
               round(100.0 * count(*) FILTER (WHERE status = 'ok' AND len(evidence) > 0
                                                 AND NOT list_contains(coalesce(flags, []), 'ungrounded'))
                     / nullif(count(*) FILTER (WHERE status = 'ok' AND evidence IS NOT NULL), 0), 1)
                 AS grounded_pct
        FROM takes WHERE run_id NOT IN (SELECT run_id FROM runs WHERE trigger = 'differential')
        GROUP BY persona_id""")


def m013_stale_count(con: duckdb.DuckDBPyConnection) -> None:
    """Source runs count tools whose verdict came from an older prompt or persona version."""
    con.execute("ALTER TABLE source_runs ADD COLUMN stale INTEGER DEFAULT 0")


def m014_carried_takes(con: duckdb.DuckDBPyConnection) -> None:
    """Issue 22: a partial re-review completes its verdict with the other personas' current takes. Which
    take each run carried, for which persona, and from which verdict (and its run): `why`, the page and
    analysts tell carried takes from the ones the run asked for."""
    con.execute("""
        CREATE TABLE carried_takes (
            run_id VARCHAR NOT NULL,           -- the partial re-review
            persona_id VARCHAR NOT NULL,
            take_id VARCHAR NOT NULL,
            from_verdict_id VARCHAR NOT NULL,  -- the verdict whose take it was (published, else latest complete)
            from_run_id VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL,
            PRIMARY KEY (run_id, persona_id)
        )""")


def m015_screen_cache(con: duckdb.DuckDBPyConnection) -> None:
    """Issue 23: the model screen ([screening] model), one row per call, append-only. A row with sentences is
    the cache (by card content hash and model: an unchanged card is never screened twice); a failed call has
    sentences NULL and its error. `sentences` is the model's answer as given; only those found verbatim in
    the card become findings. Paid work, so the budget's `spend` view counts it (run_id: the review run)."""
    con.execute("""
        CREATE TABLE screen_cache (
            snapshot_hash VARCHAR NOT NULL,    -- the card's content hash (tool_snapshots)
            model VARCHAR NOT NULL,
            sentences VARCHAR[],               -- NULL: no usable answer (see error)
            tokens_in INTEGER, tokens_out INTEGER, cost_usd DOUBLE,
            created_at TIMESTAMP NOT NULL,
            run_id VARCHAR NOT NULL,           -- the review run that paid for it
            slug VARCHAR NOT NULL,
            error VARCHAR                      -- why a call gave no usable answer
        )""")
    con.execute("CREATE INDEX screen_cache_key ON screen_cache (snapshot_hash, model)")
    con.execute("""
        CREATE OR REPLACE VIEW spend AS
        SELECT 'review' AS kind, run_id, created_at, model, tokens_in, tokens_out, cost_usd FROM takes
        UNION ALL
        SELECT 'eval', eval_run_id, created_at, model, tokens_in, tokens_out, cost_usd FROM eval_takes
        UNION ALL
        SELECT 'screen', run_id, created_at, model, tokens_in, tokens_out, cost_usd FROM screen_cache""")
