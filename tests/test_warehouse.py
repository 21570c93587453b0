"""Warehouse: migrations, the take cache, append-only history, quorum, the analyst snapshot."""

from __future__ import annotations

import shutil

import duckdb

from tests.fake_model import MALFORMED, status_error, take
from tests.helpers import FIXTURE_PERSONAS, SEED_A, SEED_B, rows
from tests.test_panel import review
from warehouse.store import Warehouse


def test_migrations_are_recorded_and_applied_once(tmp_path):
    store = Warehouse(tmp_path / "w.duckdb")
    with store.connect():
        pass
    with store.connect():
        pass
    assert rows(store.path, "SELECT version, name FROM schema_migrations ORDER BY version") == [
        (1, "m001_core"), (2, "m002_views"), (3, "m003_community_votes"), (4, "m004_ingest"),
        (5, "m005_latest_verdicts_by_arg_max"), (6, "m006_take_claims"), (7, "m007_run_inputs"), (8, "m008_spend"),
        (9, "m009_eval"), (10, "m010_decisions"), (11, "m011_injection_findings"), (12, "m012_take_evidence"),
        (13, "m013_stale_count"), (14, "m014_carried_takes"),
        (15, "m015_screen_cache"), (16, "m016_newsletter"), (17, "m017_panel_summary"), (18, "m018_take_rounds"),
        (19, "m019_pair_answers")]
    tables = {r[0] for r in rows(store.path, "SELECT table_name FROM information_schema.tables")}
    assert {"tools", "tool_snapshots", "runs", "run_results", "takes", "run_takes", "verdicts",
            "latest_verdicts", "verdict_history", "persona_stats", "run_history", "spend", "panel_summaries"} <= tables


def test_identical_rerun_pays_for_nothing_and_adds_no_run(fake_model):
    fake = fake_model
    settings, first = review([SEED_A, SEED_B])
    assert fake.calls() == 10 + 2  # and the chair's panel summary of each new verdict (issue 27)
    _, second = review([SEED_A, SEED_B])
    assert fake.calls() == 10 + 2  # the warehouse is the cache: no new verdict, no new summary
    assert all(r.run_id is None and r.paid_calls == 0 and r.cached_takes == 5 for r in second)
    assert [r.verdict for r in second] == [r.verdict for r in first]
    assert rows(settings.warehouse_path, "SELECT count(*) FROM runs")[0][0] == 2


def test_force_rereview_adds_a_run_and_keeps_history(fake_model):
    fake = fake_model
    settings, _ = review([SEED_A])
    fake.reply = take(30, "skip")
    review([SEED_A], force=True, reason="vendor shipped v2")
    assert fake.calls() == 10 + 2  # and the chair's panel summary of each new verdict (issue 27)
    db = settings.warehouse_path
    hist = rows(db, "SELECT verdict, forced, reason FROM verdict_history WHERE slug='smolvlm2-turbo' ORDER BY created_at")
    assert [h[1:] for h in hist] == [(False, None), (True, "vendor shipped v2")]
    assert hist[-1][0] == "skip"
    assert rows(db, "SELECT verdict FROM latest_verdicts WHERE slug='smolvlm2-turbo'") == [("skip",)]
    assert rows(db, "SELECT count(*) FROM takes")[0][0] == 10  # nothing overwritten


def test_editing_a_persona_repays_only_that_persona(tp_home, fake_model, tmp_path):
    fake = fake_model
    personas = tmp_path / "personas"
    shutil.copytree(FIXTURE_PERSONAS, personas)
    tp_home.mkdir(parents=True)
    (tp_home / "toolpanel.toml").write_text(f'personas_dir = "{personas}"\n')
    review([SEED_A])
    skeptic = personas / "skeptic.yaml"
    skeptic.write_text(skeptic.read_text() + "\n# sharper questions\n")
    _, [res] = review([SEED_A])
    assert fake.calls() == 6 + 2 and fake.calls(persona="skeptic") == 2  # and the chair's panel summary of each new verdict (issue 27)
    assert res.paid_calls == 1 and res.cached_takes == 4


def test_failed_takes_are_not_cached(fake_model):
    fake = fake_model
    fake.enqueue("creator", status_error(500))
    _, [first] = review([SEED_A])
    assert {t.persona_id: t.error_class for t in first.takes}["creator"] == "InternalServerError"
    fake.requests.clear()
    _, [res] = review([SEED_A])
    assert fake.calls() == 1 + 1 and fake.calls(persona="creator") == 1  # and the chair's panel summary of each new verdict (issue 27)
    assert res.paid_calls == 1 and {t.status for t in res.takes} == {"ok"}


def test_without_quorum_the_previous_verdict_stays(fake_model):
    fake = fake_model
    settings, [good] = review([SEED_A])
    for p in ("builder", "skeptic", "futurist"):
        fake.enqueue(p, MALFORMED, MALFORMED)
    _, [bad] = review([SEED_A], force=True)
    assert bad.verdict.verdict == "incomplete" and not bad.verdict.quorum_met
    db = settings.warehouse_path
    assert rows(db, "SELECT status FROM run_history ORDER BY started_at") == [("complete",), ("incomplete",)]
    assert rows(db, "SELECT count(*) FROM verdicts")[0][0] == 1
    (take_ids,), = rows(db, "SELECT take_ids FROM latest_verdicts")
    assert sorted(take_ids) == sorted(t.take_id for t in good.takes)
    # the failed takes are stored with their reason
    assert rows(db, "SELECT count(*) FROM takes WHERE status='failed' AND error_class='invalid_output'")[0][0] == 3


def test_views_for_analysts(fake_model):
    fake = fake_model
    fake.enqueue("creator", take(abstain=True), take(abstain=True))
    settings, _ = review([SEED_A, SEED_B])
    stats = dict((r[0], r[1:]) for r in rows(settings.warehouse_path,
                 "SELECT persona_id, takes, ok, abstained, failed FROM persona_stats"))
    assert stats["creator"] == (2, 0, 2, 0) and stats["builder"] == (2, 2, 0, 0)
    assert len(rows(settings.warehouse_path, "SELECT * FROM latest_verdicts")) == 2


def test_analyst_snapshot_never_blocks_and_is_replaced_atomically(fake_model):
    settings, _ = review([SEED_A])
    snap = settings.snapshot_path
    reader = duckdb.connect(str(snap), read_only=True)  # an analyst holds the snapshot open...
    try:
        before = reader.execute("SELECT count(*) FROM takes").fetchone()[0]
        review([SEED_B])  # ...while the pipeline writes and replaces the snapshot
        assert reader.execute("SELECT count(*) FROM takes").fetchone()[0] == before == 5  # a stable view
    finally:
        reader.close()
    assert rows(snap, "SELECT count(*) FROM takes")[0][0] == 10
    assert rows(snap, "SELECT count(*) FROM latest_verdicts")[0][0] == 2
    assert not list(snap.parent.glob(".analyst*.tmp"))


def test_evidence_migration_keeps_older_takes_readable(tmp_path, monkeypatch):
    """A warehouse written before m006 (no evidence column) upgrades in place; its takes read with no quotes."""
    import duckdb

    from warehouse.migrations import MIGRATIONS, migrate

    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    migrate(con, MIGRATIONS[:5])
    con.execute("INSERT INTO takes (take_id, run_id, slug, snapshot_hash, persona_id, persona_version, model, "
                "prompt_hash, status, score, verdict, paragraph, flags, created_at) VALUES ('tk_old', 'run_1', 'a', "
                "'s', 'builder', 'v', 'm', 'p', 'ok', 40, 'ship', 'old take', ['verdict_contradicts_score'], now())")
    con.close()
    [old] = Warehouse(path).takes_by_id(["tk_old"])
    assert (old.evidence, old.flags, old.grounded) == ([], ["verdict_contradicts_score"], None)
    assert rows(path, "SELECT takes, grounded_pct FROM persona_stats") == [(1, None)]
    assert rows(path, "SELECT max(version) FROM schema_migrations") == [(len(MIGRATIONS),)]


def test_a_migration_inserted_mid_list_is_the_only_one_applied(tmp_path):
    """Migrations are recorded by name: a new one placed between old ones runs once, the rest are not rerun."""
    from warehouse.migrations import MIGRATIONS, migrate

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    assert migrate(con) == [fn.__name__ for fn in MIGRATIONS]
    con.execute("INSERT INTO tools VALUES ('kept', now())")

    def m005b_mid_list_note(c):
        c.execute("CREATE TABLE mid_list_note (x INTEGER)")

    inserted = [*MIGRATIONS[:5], m005b_mid_list_note, *MIGRATIONS[5:]]
    assert migrate(con, inserted) == ["m005b_mid_list_note"]
    assert migrate(con, inserted) == []
    assert con.execute("SELECT version, name FROM schema_migrations ORDER BY version DESC LIMIT 1").fetchall() == [
        (len(MIGRATIONS) + 1, "m005b_mid_list_note")]
    assert con.execute("SELECT slug FROM tools").fetchall() == [("kept",)]
    con.close()


def test_run_ends_written_together_match_one_at_a_time(tmp_path):
    """What a group commit merges (several runs' ends in one go) decides exactly as one end at a time:
    held or auto by the hold rules, an earlier held verdict superseded, the same tool twice seeing itself."""
    import datetime as dt

    from scoring.rules import verdict as score_verdict
    from toolpanel.models import Take
    from toolpanel.sections import HoldSettings

    def takes(slug, scores):
        return [Take(take_id=f"tk_{slug}_{i}_{s}", tool_slug=slug, snapshot_hash="s", persona_id=f"p{i}",
                     persona_version="v", model="m", prompt_hash="p", status="ok", score=s,
                     verdict="ship" if s >= 60 else "skip", paragraph="A plain take.", created_at=dt.datetime(2026, 1, 1))
                for i, s in enumerate(scores)]

    def end(run, slug, scores, hold=HoldSettings()):
        t = takes(slug, scores)
        return (run, "s", score_verdict(slug, t), len(t), 0, None), {"takes": t, "hold": hold, "findings": []}

    split, ships, skips = [80, 85, 20, 25, 82], [80, 82, 85, 78, 90], [20, 25, 30, 35, 22]
    store = Warehouse(tmp_path / "w.duckdb")
    with store.transaction() as con:
        first = store.finish_runs([end("r1", "a", split), end("r2", "b", ships)], con)
    assert first[0] and not first[1]  # a split panel is held, a clear ship is published
    with store.transaction() as con:  # a's newer clear verdict is published and supersedes the held one;
        second = store.finish_runs([end("r3", "a", ships), end("r4", "b", skips), end("r5", "b", ships)], con)
    # b twice in one go: its skip swings from the published ship (held), then the ship does not swing
    assert not second[0] and second[1] and not second[2]
    decided = rows(store.path, "SELECT v.run_id, d.decision FROM decisions d JOIN verdicts v USING (verdict_id) "
                               "ORDER BY d.created_at, d.decision_id")
    assert sorted(decided) == sorted([("r1", "held"), ("r2", "auto"), ("r3", "auto"), ("r1", "superseded"),
                                      ("r4", "held"), ("r5", "auto"), ("r4", "superseded")])
    from warehouse.decisions import published_of

    with store.connect() as con:
        published = published_of(con, ["a", "b"])
    assert {s: (v.verdict, v.ship_count) for s, v in published.items()} == {"a": ("ship", 5), "b": ("ship", 5)}


def test_looks_queued_together_record_each_snapshot_once_and_split_the_cache(fake_model):
    """First looks that a group commit merges: each tool recorded, a snapshot listed twice new only once,
    cached takes handed to the look that asked (a forced look gets none), claims taken on the rest."""
    from toolpanel.ingest.cards import load_card
    from warehouse.store import Look

    settings, [done] = review([SEED_A])
    store = Warehouse(settings.warehouse_path)
    a, b = load_card(SEED_A), load_card(SEED_B)
    keys = {t.slug: [t.cache_key for t in done.takes] if t.slug == a.slug else [(b.snapshot_hash, "v", "p", "m")]
            for t in (a, b)}

    class NoCap:
        def refresh(self, con):
            pass

    def look(tool, force=False):
        return Look(store, tool, keys[tool.slug], force=force, claim=not force, lease=60, first=False, spend=NoCap())

    with store.transaction() as con:
        out = Look.many([look(a), look(a, force=True), look(b), look(b)], con)
    assert [new for new, _, _ in out] == [False, False, True, False]
    assert set(out[0][1]) == set(keys[a.slug]) and out[1][1] == {}  # the forced look pays on purpose
    assert out[2][1] == {} and out[2][2] == {}  # nothing cached, nothing held by another process
    assert rows(store.path, "SELECT count(*) FROM tool_snapshots WHERE slug = ?", [b.slug]) == [(1,)]
    assert rows(store.path, "SELECT count(*) FROM take_claims") == [(1,)]  # b's one key, claimed once
