"""Migration m017: the confidence band and the panel summary, stored with their verdict (issue 27; docs/panel.md)."""

from __future__ import annotations

import duckdb

from warehouse.migrations.trust import VERDICT_COLUMNS

BAND_COLUMNS = "v.band, v.band_label"


def m017_panel_summary(con: duckdb.DuckDBPyConnection) -> None:
    """Each verdict's band (scoring/band.py), written in the verdict's own INSERT: `band` is the word, `band_label`
    what readers see ("Clear · 3 of 5 voices"). Verdicts stored before this have NULL (readers compute it from
    the stored counts). The chair's call per verdict, ok or failed, in `panel_summaries`, written in the
    verdict's transaction, so it is held and published with it; its cost counts in `spend`. The published,
    history and held views gain the band as their last columns (every earlier column is kept, in order)."""
    con.execute("ALTER TABLE verdicts ADD COLUMN band VARCHAR")        # Unanimous | Clear | Leaning | Split
    con.execute("ALTER TABLE verdicts ADD COLUMN band_label VARCHAR")
    con.execute("""
        CREATE TABLE panel_summaries (
            verdict_id VARCHAR PRIMARY KEY,
            run_id VARCHAR NOT NULL,
            slug VARCHAR NOT NULL,
            status VARCHAR NOT NULL,           -- ok | failed (rejected by a check, screened, or the call failed)
            error VARCHAR,                     -- why it failed
            summary JSON,                      -- toolpanel.summaries.PanelSummary, reviewers by persona id (ok only)
            letters JSON NOT NULL,             -- {letter: persona id}, as the chair was shown the takes
            raw VARCHAR,                       -- the chair's reply as given
            model VARCHAR NOT NULL,
            tokens_in INTEGER, tokens_out INTEGER, cost_usd DOUBLE,
            created_at TIMESTAMP NOT NULL
        )""")
    con.execute(f"""
        CREATE OR REPLACE VIEW published_verdicts AS
        WITH ok AS (SELECT verdict_id, decision, editor, decided_at FROM verdict_status
                    WHERE decision IN ('approved', 'auto')),
             newest AS (SELECT arg_max(v.verdict_id, (v.created_at, v.verdict_id)) AS verdict_id
                        FROM verdicts v JOIN ok USING (verdict_id) GROUP BY v.slug)
        SELECT {VERDICT_COLUMNS}, ok.decision, ok.editor, ok.decided_at, {BAND_COLUMNS}
        FROM verdicts v JOIN newest USING (verdict_id) JOIN ok USING (verdict_id) JOIN runs r ON r.run_id = v.run_id""")
    con.execute(f"""
        CREATE OR REPLACE VIEW published_history AS
        SELECT {VERDICT_COLUMNS}, s.decision, s.editor, s.decided_at, {BAND_COLUMNS}
        FROM verdicts v JOIN verdict_status s USING (verdict_id) JOIN runs r ON r.run_id = v.run_id
        WHERE s.decision IN ('approved', 'auto')""")
    con.execute(f"""
        CREATE OR REPLACE VIEW held_verdicts AS
        SELECT {VERDICT_COLUMNS}, s.reasons, s.decided_at AS held_at, {BAND_COLUMNS}
        FROM verdicts v JOIN verdict_status s USING (verdict_id) JOIN runs r ON r.run_id = v.run_id
        LEFT JOIN published_verdicts p ON p.slug = v.slug
        WHERE s.decision = 'held' AND (p.verdict_id IS NULL OR (v.created_at, v.verdict_id) > (p.created_at, p.verdict_id))""")
    con.execute("""
        CREATE OR REPLACE VIEW spend AS
        SELECT 'review' AS kind, run_id, created_at, model, tokens_in, tokens_out, cost_usd FROM takes
        UNION ALL
        SELECT 'eval', eval_run_id, created_at, model, tokens_in, tokens_out, cost_usd FROM eval_takes
        UNION ALL
        SELECT 'screen', run_id, created_at, model, tokens_in, tokens_out, cost_usd FROM screen_cache
        UNION ALL
        SELECT 'chair', run_id, created_at, model, tokens_in, tokens_out, cost_usd FROM panel_summaries""")


def m019_pair_answers(con: duckdb.DuckDBPyConnection) -> None:
    """A comparison page's answer by the chair (toolpanel/panel/pairs.py), ok or failed, keyed by the two
    published verdicts it read, in the order the chair was shown them; its cost counts in `spend`."""
    con.execute("""
        CREATE TABLE pair_answers (
            call_id VARCHAR PRIMARY KEY,
            verdict_a VARCHAR NOT NULL, verdict_b VARCHAR NOT NULL,   -- the first and second tool's verdicts
            slug_a VARCHAR NOT NULL, slug_b VARCHAR NOT NULL,
            status VARCHAR NOT NULL,           -- ok | failed (rejected by a check, screened, or the call failed)
            error VARCHAR,
            pick_slug VARCHAR,                 -- the tool the answer picks; NULL: neither, too close, or failed
            answer JSON,                       -- toolpanel.summaries.PairAnswer, reviewers by persona id + slug
            letters JSON NOT NULL,             -- {letter: "slug/persona id"}, as the chair was shown the takes
            raw VARCHAR, model VARCHAR NOT NULL,
            tokens_in INTEGER, tokens_out INTEGER, cost_usd DOUBLE,
            created_at TIMESTAMP NOT NULL
        )""")
    con.execute("""
        CREATE OR REPLACE VIEW spend AS
        SELECT 'review' AS kind, run_id, created_at, model, tokens_in, tokens_out, cost_usd FROM takes
        UNION ALL
        SELECT 'eval', eval_run_id, created_at, model, tokens_in, tokens_out, cost_usd FROM eval_takes
        UNION ALL
        SELECT 'screen', run_id, created_at, model, tokens_in, tokens_out, cost_usd FROM screen_cache
        UNION ALL
        SELECT 'chair', run_id, created_at, model, tokens_in, tokens_out, cost_usd FROM panel_summaries
        UNION ALL
        SELECT 'pair', call_id, created_at, model, tokens_in, tokens_out, cost_usd FROM pair_answers""")
