"""The daily flow reads feeds as well as cards, and records its source runs and rejections."""

from __future__ import annotations

import asyncio


from tests.helpers import SEED_A, rows
from tests.test_ingest import BAD_ITEMS, FeedServer, configure


def test_daily_review_ingests_feeds_and_records_rejections(prefect_harness, tp_home, provider_env, tmp_path):
    from flows.reviews import daily_review

    server = FeedServer()
    server.thread.start()
    try:
        server.add("/rss.xml", BAD_ITEMS)
        (tmp_path / "cards").mkdir()
        (tmp_path / "cards" / SEED_A.name).write_text(SEED_A.read_text())
        configure(tmp_path, {"editors": {"kind": "cards", "path": "cards"},
                             "launches": {"kind": "rss", "url": server.url("/rss.xml")},
                             "gone": {"kind": "rss", "url": server.url("/missing.xml")}})
        summary = asyncio.run(daily_review())
        assert (summary["seen"], summary["new"], summary["reviewed"], summary["rejected"]) == (3, 3, 3, 3)
        db = tp_home / "warehouse.duckdb"
        assert rows(db, "SELECT slug, reason FROM runs ORDER BY slug") == [
            ("acme-notes", "new tool"), ("bolt-queue", "new tool"), ("smolvlm2-turbo", "new tool")]
        assert rows(db, "SELECT source, trigger, status, items, new_tools, rejected FROM source_runs ORDER BY source") == [
            ("editors", "daily", "ok", 1, 1, 0), ("gone", "daily", "failed", 0, 0, 1),
            ("launches", "daily", "ok", 4, 2, 2)]
        assert rows(db, "SELECT source, item, field FROM rejections ORDER BY source, item") == [
            ("gone", None, None), ("launches", "item 3", "title"), ("launches", 'item 4 "No link"', "link")]

        # the next day: same feed, nothing new, nothing reviewed; the feed edits one description
        assert asyncio.run(daily_review())["reviewed"] == 0
        server.add("/rss.xml", BAD_ITEMS.replace("single SQLite file.", "single SQLite file, now with cron."))
        summary = asyncio.run(daily_review())
        assert (summary["changed"], summary["reviewed"]) == (1, 1)
        assert rows(db, "SELECT slug, reason FROM runs ORDER BY started_at DESC LIMIT 1") == [
            ("bolt-queue", "description changed")]
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


def test_daily_review_refreshes_stale_verdicts_oldest_first_within_the_cap(prefect_harness, tp_home, provider_env,
                                                                           tmp_path):
    from flows.reviews import daily_review
    from tests.test_stale import edit_persona, project

    project(tmp_path, cap=2)
    assert asyncio.run(daily_review())["reviewed"] == 3
    db = tp_home / "warehouse.duckdb"
    oldest = [r[0] for r in rows(db, "SELECT slug FROM latest_verdicts ORDER BY created_at")]

    edit_persona(tmp_path)
    summary = asyncio.run(daily_review())
    assert (summary["stale"], summary["reviewed"]) == (3, 2)
    refreshed = rows(db, "SELECT slug FROM runs WHERE reason = 'prompt or persona changed' ORDER BY slug")
    assert [r[0] for r in refreshed] == sorted(oldest[:2])
    summary = asyncio.run(daily_review())
    assert (summary["stale"], summary["reviewed"]) == (1, 1)
    assert rows(db, "SELECT slug FROM runs ORDER BY started_at DESC LIMIT 1") == [(oldest[2],)]
    assert asyncio.run(daily_review())["reviewed"] == 0
