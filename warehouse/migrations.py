"""Schema migrations: an ordered list of small functions, each applied once and recorded by name.

A migration runs iff its NAME is not in schema_migrations, so inserting one in the middle of the list
applies just that one on an existing warehouse; the version column only numbers rows for display.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import duckdb

from warehouse.rows import now


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


MIGRATIONS = [m001_core, m002_views, m003_community_votes, m004_ingest, m005_latest_verdicts_by_arg_max,
              m006_take_claims, m007_run_inputs, m008_spend, m009_eval, m010_decisions, m011_injection_findings,
              m012_take_evidence, m013_stale_count]


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
