"""Ingest end to end: feeds, lists and tool pages served from a loopback HTTP server; a real warehouse."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.helpers import SEED_A, cli, rows
from toolpanel.config import load_settings
from toolpanel.ingest.sources import configured_sources
from toolpanel.ingest.run import ingest
from toolpanel.ingest.fetch import USER_AGENT
from toolpanel.ingest.identity import alternative_slug
from toolpanel.models import Tool
from warehouse.store import Warehouse
from warehouse.rows import new_id, now


# --------------------------------------------------------------------------- loopback server

class FeedServer:
    """Routes path -> (status, content type, body); records every request with its headers."""

    def __init__(self) -> None:
        self.routes: dict[str, dict] = {}
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append({"path": self.path, "headers": dict(self.headers)})
                r = server.routes.get(self.path, {"status": 404, "body": b"not found", "type": "text/plain"})
                time.sleep(r.get("delay", 0))
                try:
                    self.send_response(r["status"])
                    self.send_header("Content-Type", r["type"])
                    size = r.get("size")
                    if size is None:
                        self.send_header("Content-Length", str(len(r["body"])))
                    elif r.get("declare", True):
                        self.send_header("Content-Length", str(size))
                    self.end_headers()
                    if size is None:
                        self.wfile.write(r["body"])
                        return
                    chunk = b"<" + b"x" * 65_535
                    for _ in range(size // len(chunk)):
                        self.wfile.write(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up past its size cap: that is the point

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}{path}"

    def add(self, path: str, body: str | bytes = b"", status: int = 200, type: str = "application/xml", **kw):
        self.routes[path] = {"status": status, "type": type,
                             "body": body.encode() if isinstance(body, str) else body, **kw}

    def paths(self) -> list[str]:
        return [r["path"] for r in self.requests]


@pytest.fixture
def server():
    s = FeedServer()
    s.thread.start()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


# --------------------------------------------------------------------------- fixtures: the four formats

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Launches</title><link>https://launches.example</link><description>New</description>
<item><title>Acme Notes – notes that write their own tests</title>
<link>https://acme.dev/?utm_source=rss&amp;ref=launches#top</link>
<description>&lt;p&gt;Acme Notes turns meeting notes into &lt;b&gt;pytest&lt;/b&gt; cases.&lt;/p&gt;</description>
<category>Developer Tools</category><pubDate>Fri, 20 Nov 2026 10:00:00 GMT</pubDate></item>
<item><title>Show HN: Bolt Queue: a job queue in one SQLite file</title><link>https://boltqueue.io/</link>
<description>Bolt Queue is a durable job queue that lives in a single SQLite file.</description></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom launches</title><id>urn:launches</id>
<updated>2026-11-21T00:00:00Z</updated>
<entry><title>Kiln — serverless GPUs by the second</title><link href="https://kiln.run/?utm_campaign=atom"/>
<id>urn:kiln</id><updated>2026-11-21T08:00:00Z</updated><category term="Infrastructure"/>
<summary type="html">&lt;p&gt;Kiln runs your model on a GPU for exactly as long as a request takes.&lt;/p&gt;</summary>
</entry></feed>"""

JSONFEED = json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "JSON launches", "items": [
    {"id": "1", "url": "https://launches.example/posts/marrow", "external_url": "https://marrowdb.io",
     "title": "Marrow DB", "content_html": "<p>Marrow DB is an embedded vector store for laptops.</p>",
     "tags": ["Databases"], "date_published": "2026-11-22T09:30:00Z"},
    {"id": "2", "external_url": "https://www.acme.dev/", "title": "Acme Notes",
     "summary": "Another site's blurb about Acme Notes."}]})

CSV = ("name,url,tagline,pricing,entry,category,launched,description,votes\n"
       "Threadnote,https://threadnote.com,Slack threads into decision notes,Free / $8 a month,Freemium,"
       "Productivity,2026-11-23,\"Threadnote turns long Slack threads into <b>decision notes</b>.<script>steal()"
       "</script>\",12\n")


def configure(tmp_path: Path, sources: dict[str, dict], **politeness) -> None:
    lines = ["[sources]"] + [f"{k} = {json.dumps(v)}" for k, v in politeness.items()] + [""]
    for name, table in sources.items():
        lines.append(f"[sources.{name}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in table.items()]
        lines.append("")
    (tmp_path / "toolpanel.toml").write_text("\n".join(lines))


def run(record: bool = True):
    settings = load_settings()
    return ingest(settings, configured_sources(settings), record=record)


def mark_reviewed(tools: list[Tool]) -> None:
    """Store each tool's snapshot with a complete verdict, as a finished review would."""
    store = Warehouse(load_settings().warehouse_path)
    for t in tools:
        store.record_tool(t)
        with store.transaction() as con:
            con.execute("INSERT INTO verdicts VALUES (?, ?, ?, ?, 'ship', 3, 0, 0, 0, 100, 80, 80, 0, false, [], ?, NULL, NULL)",
                        [new_id("vd"), new_id("run"), t.slug, t.snapshot_hash, now()])


def four_sources(server: FeedServer, tmp_path: Path, rss: str = RSS) -> None:
    server.add("/rss.xml", rss, type="application/rss+xml")
    server.add("/atom.xml", ATOM, type="application/atom+xml")
    server.add("/feed.json", JSONFEED, type="application/feed+json")
    server.add("/launches.csv", CSV, type="text/csv")
    configure(tmp_path, {"rss": {"kind": "rss", "url": server.url("/rss.xml")},
                         "atom": {"kind": "atom", "url": server.url("/atom.xml")},
                         "jf": {"kind": "jsonfeed", "url": server.url("/feed.json")},
                         "sheet": {"kind": "csv", "url": server.url("/launches.csv")}})


# --------------------------------------------------------------------------- happy paths, identity, changes

def test_four_formats_become_the_same_tools_as_cards(tp_home, tmp_path, server):
    four_sources(server, tmp_path)
    report = run()
    got = [(t.slug, t.name, t.tagline, t.url, t.category, t.launched, t.pricing, t.entry, t.description, t.source)
           for t in report.tools]
    assert got == [
        ("acme-notes", "Acme Notes", "notes that write their own tests", "https://acme.dev", "Developer Tools",
         dt.date(2026, 11, 20), None, None, "Acme Notes turns meeting notes into pytest cases.", "rss"),
        ("bolt-queue", "Bolt Queue", "a job queue in one SQLite file", "https://boltqueue.io", None, None, None, None,
         "Bolt Queue is a durable job queue that lives in a single SQLite file.", "rss"),
        ("kiln", "Kiln", "serverless GPUs by the second", "https://kiln.run", "Infrastructure", dt.date(2026, 11, 21),
         None, None, "Kiln runs your model on a GPU for exactly as long as a request takes.", "atom"),
        ("marrow-db", "Marrow DB", None, "https://marrowdb.io", "Databases", dt.date(2026, 11, 22), None, None,
         "Marrow DB is an embedded vector store for laptops.", "jf"),
        ("threadnote", "Threadnote", "Slack threads into decision notes", "https://threadnote.com", "Productivity",
         dt.date(2026, 11, 23), "Free / $8 a month", "Freemium", "Threadnote turns long Slack threads into decision "
         "notes.", "sheet")]
    # the same tool from a second source is one tool: the JSON Feed's copy of Acme Notes is a duplicate
    dup = [(i.source, i.item, i.status, i.slug, i.reason) for i in report.items if i.status == "duplicate"]
    assert dup == [("jf", 'item 2 "Acme Notes"', "duplicate", "acme-notes", "same tool as an item of rss")]
    assert [s.notes for s in report.sources] == [[], [], [], [
        "ignored column(s) 'votes' — toolpanel reads name, slug, url, category, tagline, pricing, entry, launched, "
        "description"]]
    db = tp_home / "warehouse.duckdb"
    assert rows(db, "SELECT source, kind, status, items, new_tools, duplicates, rejected, trigger FROM source_runs "
                    "ORDER BY source") == [("atom", "atom", "ok", 1, 1, 0, 0, "daily"), ("jf", "jsonfeed", "ok", 2, 1, 1, 0, "daily"),
                                           ("rss", "rss", "ok", 2, 2, 0, 0, "daily"), ("sheet", "csv", "ok", 1, 1, 0, 0, "daily")]
    assert rows(db, "SELECT url_key, slug, source FROM tool_urls ORDER BY url_key") == [
        ("acme.dev", "acme-notes", "rss"), ("boltqueue.io", "bolt-queue", "rss"), ("kiln.run", "kiln", "atom"),
        ("marrowdb.io", "marrow-db", "jf"), ("threadnote.com", "threadnote", "sheet")]
    assert rows(db, "SELECT source, status FROM tool_sightings WHERE slug = 'acme-notes' ORDER BY source") == [
        ("jf", "duplicate"), ("rss", "new")]
    assert all(r["headers"]["User-Agent"] == USER_AGENT for r in server.requests)


def test_changed_description_is_changed_cosmetic_edits_are_not(tp_home, tmp_path, server):
    four_sources(server, tmp_path)
    mark_reviewed(run().tools)
    assert {i.status for i in run().items} == {"unchanged", "duplicate"}
    # re-wrapped text, new tracking parameters, a fragment, an uppercase host: all cosmetic
    cosmetic = (RSS.replace("https://boltqueue.io/", "https://BoltQueue.io/?utm_medium=feed&amp;fbclid=1#x")
                .replace("durable job queue that", "durable   job\n queue that"))
    server.add("/rss.xml", cosmetic)
    assert [(i.slug, i.status) for i in run().items if i.source == "rss"] == [
        ("acme-notes", "unchanged"), ("bolt-queue", "unchanged")]
    server.add("/rss.xml", RSS.replace("pytest&lt;/b&gt; cases.", "pytest&lt;/b&gt; and vitest cases."))
    report = run()
    assert [(i.slug, i.status, i.reason) for i in report.items if i.source == "rss"] == [
        ("acme-notes", "changed", "description changed"), ("bolt-queue", "unchanged", "unchanged")]
    assert [(i.tool.slug, i.reason) for i in report.intakes if i.needs_review] == [("acme-notes", "description changed")]


def test_the_first_source_speaks_for_a_tool_even_after_it_rolls_the_item_off(tp_home, tmp_path, server):
    four_sources(server, tmp_path)
    mark_reviewed(run().tools)
    # rss no longer lists Acme Notes; the JSON Feed still has its own blurb: not a change, not a review
    server.add("/rss.xml", RSS.split("<item>")[0] + "<item>" + RSS.split("<item>")[2])
    report = run()
    assert [(i.source, i.slug, i.status, i.reason) for i in report.items if i.slug == "acme-notes"] == [
        ("jf", "acme-notes", "duplicate", "rss brought this tool in first and speaks for it")]
    assert not [i for i in report.intakes if i.needs_review]


def test_an_item_cannot_take_over_another_tools_slug(tp_home, tmp_path, server):
    four_sources(server, tmp_path)
    mark_reviewed(run().tools)
    hijack = RSS.replace("https://acme.dev/?utm_source=rss&amp;ref=launches#top", "https://evil.example/acme")
    renamed = RSS.replace("Show HN: Bolt Queue:", "Bolt Queue 2:")
    server.add("/rss.xml", hijack)
    server.add("/rss2.xml", renamed)
    configure(tmp_path, {"rss": {"kind": "rss", "url": server.url("/rss.xml")},
                         "other": {"kind": "feed", "url": server.url("/rss2.xml")}})
    report = run()
    alt = alternative_slug("acme-notes", "evil.example/acme")
    assert [(i.source, i.slug, i.status, i.reason) for i in report.items] == [
        ("rss", alt, "new", f"new tool; slug 'acme-notes' belongs to another tool (acme.dev); this one is '{alt}'"),
        ("rss", "bolt-queue", "unchanged", "unchanged"),
        ("other", "acme-notes", "duplicate", "rss brought this tool in first and speaks for it"),
        ("other", "bolt-queue", "duplicate", "same tool as an item of rss")]
    store = Warehouse(tp_home / "warehouse.duckdb")
    assert store.latest_tool("acme-notes").url == "https://acme.dev"  # untouched
    # the owner renaming its item keeps the tool (same URL) and says what changed
    server.add("/rss.xml", renamed)
    assert [(i.slug, i.status, i.reason) for i in run().items if i.source == "rss"][1] == (
        "bolt-queue", "changed", "name changed")


def test_cards_and_feeds_are_one_tool_and_cards_speak_for_it(tp_home, tmp_path, server):
    cards = tmp_path / "cards"
    cards.mkdir()
    (cards / "smolvlm2-turbo.md").write_text(SEED_A.read_text())
    feed = RSS.replace("https://acme.dev/?utm_source=rss&amp;ref=launches#top",
                       "https://huggingface.co/HuggingFaceTB/SmolVLM2-Turbo?utm_source=rss")
    server.add("/rss.xml", feed)
    configure(tmp_path, {"news": {"kind": "rss", "url": server.url("/rss.xml")},
                         "editors": {"kind": "cards", "path": "cards"}})
    report = run()
    assert [(i.source, i.slug, i.status) for i in report.items] == [
        ("news", "smolvlm2-turbo", "duplicate"), ("news", "bolt-queue", "new"), ("editors", "smolvlm2-turbo", "new")]
    assert report.tools[1].source == "card"


# --------------------------------------------------------------------------- bad input

BAD_ITEMS = RSS.replace("</channel>", "<item><link>https://notitle.example</link><description>x</description></item>"
                                      "<item><title>No link</title><description>x</description></item></channel>")


def test_every_bad_input_is_a_recorded_rejection_and_the_rest_goes_on(tp_home, tmp_path, server):
    server.add("/rss.xml", BAD_ITEMS)
    server.add("/page.html", "<html><head><title>Launches</title></head><body><p>Our launches</p></body></html>",
               type="text/html")
    server.add("/slow.xml", RSS, delay=1.5)
    server.add("/truncated.xml", RSS[:300])
    server.add("/huge.xml", size=10 * 1024 * 1024)
    server.add("/huge-undeclared.xml", size=10 * 1024 * 1024, declare=False)
    server.add("/down.xml", "oops", status=503, type="text/plain")
    configure(tmp_path, {"good": {"kind": "rss", "url": server.url("/rss.xml")},
                         "webpage": {"kind": "feed", "url": server.url("/page.html")},
                         "guess": {"url": server.url("/page.html")},
                         "slow": {"kind": "rss", "url": server.url("/slow.xml")},
                         "gone": {"kind": "rss", "url": server.url("/missing.xml")},
                         "down": {"kind": "rss", "url": server.url("/down.xml")},
                         "broken": {"kind": "rss", "url": server.url("/truncated.xml")},
                         "huge": {"kind": "rss", "url": server.url("/huge.xml")},
                         "huge2": {"kind": "rss", "url": server.url("/huge-undeclared.xml")},
                         "file": {"kind": "csv", "path": "nope.csv"}},
              timeout=0.5)
    started = time.monotonic()
    report = run()
    assert time.monotonic() - started < 5
    assert [t.slug for t in report.tools] == ["acme-notes", "bolt-queue"]
    cap = "response is larger than the cap of 2,000,000 bytes — raise source_bytes under [limits] in toolpanel.toml " \
          "if the source is really that big"
    assert [str(r) for r in report.rejections] == [
        "good: item 3: field 'title': has no title — the publisher must give every item a title; the item was skipped",
        "good: item 4 \"No link\": field 'link': has no link — the panel needs the tool's address; feed and list items "
        "without one are skipped",
        "webpage: is not an RSS or Atom feed — check that the URL is the feed itself, not the web page that links to it",
        "guess: is a web page, not a feed or list — give the address of the feed (look for an RSS/Atom link on the page)",
        "slow: timed out after 0.5 s — it is tried again on the next run (raise timeout under [sources] if the server "
        "is always slow)",
        "gone: HTTP 404 Not Found — check the URL (the source may have moved)",
        "down: HTTP 503 Service Unavailable — the server failed; it is tried again on the next run",
        "broken: is not well-formed XML (unclosed token at line 5, column 0) — the publisher must fix the feed; "
        "nothing from it was read this run",
        f"huge: {cap}", f"huge2: {cap}",
        "file: no such file — check the path (relative paths start at toolpanel.toml)"]
    db = tp_home / "warehouse.duckdb"
    assert rows(db, "SELECT source, item, url, field, reason FROM rejections WHERE source IN ('good', 'gone') "
                    "ORDER BY source, item") == [
        ("gone", None, server.url("/missing.xml"), None, "HTTP 404 Not Found — check the URL (the source may have moved)"),
        ("good", "item 3", "https://notitle.example", "title",
         "field 'title': has no title — the publisher must give every item a title; the item was skipped"),
        ("good", 'item 4 "No link"', None, "link", "field 'link': has no link — the panel needs the tool's address; "
         "feed and list items without one are skipped")]
    assert rows(db, "SELECT source, status, error IS NOT NULL, rejected FROM source_status ORDER BY source") == [
        ("broken", "failed", True, 1), ("down", "failed", True, 1), ("file", "failed", True, 1),
        ("gone", "failed", True, 1), ("good", "ok", False, 2), ("guess", "failed", True, 1),
        ("huge", "failed", True, 1), ("huge2", "failed", True, 1), ("slow", "failed", True, 1),
        ("webpage", "failed", True, 1)]


def test_hostile_items_are_cleaned_or_refused(tp_home, tmp_path, server):
    hostile = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><link>https://x.example</link>
<description>x</description>
<item><title>Evil\u200b Tool\u202e</title><link>https://evil.example/tool</link>
<description><![CDATA[<script>alert(document.cookie)</script><p>Useful&nbsp;text\u200d about <a href="javascript:x()">it</a>.</p><img src=x onerror=alert(1)><style>body{{display:none}}</style>]]></description></item>
<item><title>Padded</title><link>https://padded.example</link><description>{"A" * 200_000}</description></item>
</channel></rss>"""
    server.add("/h.xml", hostile)
    server.add("/h.csv", 'name,url,description\n"<script>x()</script>Sneaky\u2066",https://sneaky.example,'
                         '"<iframe src=//x></iframe>Plain &lt;b&gt;text&lt;/b&gt;\u200b here."\n', type="text/csv")
    configure(tmp_path, {"h": {"kind": "rss", "url": server.url("/h.xml")},
                         "l": {"kind": "csv", "url": server.url("/h.csv")}})
    report = run()
    assert [(t.name, t.description) for t in report.tools] == [
        ("Evil Tool", "Useful text about it."), ("Sneaky", "Plain <b>text</b> here.")]
    assert [str(r) for r in report.rejections] == [
        "h: item 2 \"Padded\": field 'description': is 200,000 characters, over the cap of 8,000 — feed and list "
        "descriptions are refused, not truncated; write a card for the tool if it should be reviewed"]


def test_max_items_keeps_the_newest(tp_home, tmp_path, server):
    server.add("/rss.xml", RSS)
    configure(tmp_path, {"rss": {"kind": "rss", "url": server.url("/rss.xml"), "max_items": 1}})
    report = run(record=False)
    assert [t.slug for t in report.tools] == ["acme-notes"]
    assert report.sources[0].notes == ["read the first 1 of 2 items (max_items)"]
    assert not (tp_home / "warehouse.duckdb").exists()  # a preview writes nothing


# --------------------------------------------------------------------------- enrichment

PAGE = """<html><head><title>{name}</title><script>track()</script></head><body><nav><a href="/">Home</a></nav>
<article><h1>{name}</h1><p>{name} listens to your meeting and writes the test cases that the decisions imply, so
the tests exist before the code does.</p><p>It works with pytest and vitest, runs locally, and is free for
open-source projects. Teams pay 12 dollars a seat per month. {extra}</p></article>
<footer>Copyright 2026. All rights reserved.</footer></body></html>"""


def _enrich_feed(server: FeedServer) -> str:
    items = [("Acme Notes", "/acme", "Notes to tests."), ("Bolt", "/private/bolt", "Job queue."),
             ("Kiln", "/kiln", "GPUs."), ("Marrow", "/marrow", "Vectors."), ("Hidden", "/private/hidden", "")]
    body = "".join(f"<item><title>{t}</title><link>{server.url(p)}</link><description>{d}</description></item>"
                   for t, p, d in items)
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><link>x</link>{body}</channel></rss>'


def test_short_summaries_are_enriched_politely(tp_home, tmp_path, server):
    server.add("/feed.xml", _enrich_feed(server))
    server.add("/robots.txt", "User-agent: *\nDisallow: /private/\n", type="text/plain")
    for path, name in (("/acme", "Acme Notes"), ("/kiln", "Kiln"), ("/marrow", "Marrow"), ("/private/bolt", "Bolt")):
        server.add(path, PAGE.format(name=name, extra=""), type="text/html; charset=utf-8")
    configure(tmp_path, {"launches": {"kind": "rss", "url": server.url("/feed.xml"), "enrich": True}},
              requests_per_host=4)
    report = run()
    # feed, robots.txt, two pages: the budget of 4 for this host is spent; /private/ is never asked for
    assert server.paths() == ["/feed.xml", "/robots.txt", "/acme", "/kiln"]
    assert {r["headers"]["User-Agent"] for r in server.requests} == {USER_AGENT}
    assert [(i.item, i.status, i.enriched) for i in report.items] == [
        ('item 1 "Acme Notes"', "new", True), ('item 2 "Bolt"', "new", False), ('item 3 "Kiln"', "new", True),
        ('item 4 "Marrow"', "deferred", False), ('item 5 "Hidden"', "rejected", False)]
    acme = report.tools[0]
    assert acme.description.startswith("Notes to tests.\n\nAcme Notes\nAcme Notes listens to your meeting")
    assert "track()" not in acme.description and "Copyright" not in acme.description
    assert report.tools[1].description == "Job queue."  # robots.txt said no: the item keeps its own text
    assert [i.reason for i in report.items if i.status == "deferred"] == [
        f"the budget of 4 requests to 127.0.0.1:{server.httpd.server_port} for this run is spent — it is tried again "
        "on the next run (or raise requests_per_host under [sources])"]
    assert [str(r) for r in report.rejections] == [
        "launches: item 5 \"Hidden\": field 'description': is missing, and the tool's page could not be read: "
        "robots.txt does not allow toolpanel to read the page — nothing to do: the site asked crawlers to stay away; "
        "the item keeps its own summary"]

    # next day: the pages changed (counters, dates) but the feed items did not: no refetch, no "changed"
    mark_reviewed(report.tools)
    for path, name in (("/acme", "Acme Notes"), ("/kiln", "Kiln")):
        server.add(path, PAGE.format(name=name, extra="Now 10,000 users!"), type="text/html")
    server.requests.clear()
    report = run()
    assert server.paths() == ["/feed.xml", "/robots.txt", "/marrow"]
    assert [(i.slug, i.status) for i in report.items if i.status != "rejected"] == [
        ("acme-notes", "unchanged"), ("bolt", "unchanged"), ("kiln", "unchanged"), ("marrow", "new")]


# --------------------------------------------------------------------------- the commands

def test_ingest_command_previews_an_adhoc_feed(tp_home, tmp_path, server):
    four_sources(server, tmp_path)
    mark_reviewed(run().tools)  # the configured sources, recorded and reviewed
    server.add("/new.xml", RSS.replace("Bolt Queue is a durable", "Bolt Queue is a fast, durable") + "\n")
    r = cli("ingest", server.url("/new.xml"), cwd=tmp_path, env={"TOOLPANEL_HOME": str(tp_home)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        f"{server.url('/new.xml')} (feed): 2 items — 1 changed, 1 unchanged",
        "  changed    bolt-queue                   Bolt Queue — description changed",
        "",
        "Would bring in: 0 new, 1 changed, 0 pending, 0 stale (1 unchanged) · 0 duplicate · 0 deferred · 0 rejected. "
        "Nothing was reviewed or recorded."]
    r = cli("ingest", "--json", cwd=tmp_path, env={"TOOLPANEL_HOME": str(tp_home)})
    data = json.loads(r.stdout)
    assert data["counts"] == {"new": 0, "changed": 0, "pending": 0, "stale": 0, "unchanged": 5, "duplicate": 1,
                              "deferred": 0, "rejected": 0}
    assert [s["name"] for s in data["sources"]] == ["rss", "atom", "jf", "sheet"]


def test_ingest_command_exit_codes_and_errors(tp_home, tmp_path, server):
    server.add("/bad.xml", RSS[:300])
    r = cli("ingest", server.url("/bad.xml"), cwd=tmp_path, env={"TOOLPANEL_HOME": str(tp_home)})
    assert r.returncode == 1
    assert r.stdout.splitlines()[0] == (f"{server.url('/bad.xml')} (auto): failed — is not "
                                        "well-formed XML (unclosed token at line 5, column 0) — the publisher must "
                                        "fix the feed; nothing from it was read this run")
    r = cli("ingest", cwd=tmp_path, env={"TOOLPANEL_HOME": str(tp_home)})
    assert r.returncode == 2
    assert r.stderr.strip() == ("error: no sources configured — add a [sources.NAME] table to toolpanel.toml, or "
                                "name a directory, a file or a feed URL: toolpanel ingest https://example.com/feed.xml")
    (tmp_path / "toolpanel.toml").write_text('[sources.hn]\nkind = "rdf"\nurl = "https://hnrss.org/show"\n')
    r = cli("sources", cwd=tmp_path, env={"TOOLPANEL_HOME": str(tp_home)})
    assert r.returncode == 2
    assert r.stderr.strip() == (f"error: {tmp_path}/toolpanel.toml: [sources.hn]: kind = 'rdf' is not a source kind "
                                "— use one of: cards, rss, atom, feed, jsonfeed, csv, json")


def test_sources_command_shows_last_run_and_counts(tp_home, tmp_path, server):
    four_sources(server, tmp_path)
    configure(tmp_path, {"rss": {"kind": "rss", "url": server.url("/rss.xml"), "enrich": True},
                         "jf": {"kind": "jsonfeed", "url": server.url("/feed.json")},
                         "gone": {"kind": "rss", "url": server.url("/missing.xml")},
                         "later": {"kind": "csv", "path": "later.csv"}},
              min_description=10)  # the summaries are long enough: no page is read
    (tmp_path / "later.csv").write_text("name,url,description\n")
    settings = load_settings()
    ingest(settings, configured_sources(settings)[:3], record=True)
    r = cli("sources", cwd=tmp_path, env={"TOOLPANEL_HOME": str(tp_home)})
    assert r.returncode == 0, r.stderr
    lines = [" ".join(line.strip("│┃ ").split()) for line in r.stdout.splitlines()]
    assert "source ┃ kind ┃ location ┃ last run ┃ result" in lines
    assert any(line.startswith(f"rss │ rss +enrich │ {server.url('/rss.xml')} │") and
               line.endswith("daily │ 2 items: 2 new") for line in lines)
    assert any(line.endswith("daily │ 2 items: 1 new, 1 duplicate") and line.startswith("jf │ jsonfeed") for line in lines)
    assert any(line.endswith("daily │ failed: HTTP 404 Not Found — check the URL (the source may have moved)")
               for line in lines)
    assert "later │ csv │ later.csv │ never │ —" in lines
    assert lines[-1] == ("Politeness: timeout 20 s, at most 2,000,000 bytes a response, 10 requests per host per run, "
                         f"pages read below 10 characters (sources with enrich = true) · User-Agent: {USER_AGENT}")
    data = json.loads(cli("sources", "--json", cwd=tmp_path, env={"TOOLPANEL_HOME": str(tp_home)}).stdout)
    assert [(s["name"], (s["last_run"] or {}).get("status")) for s in data["sources"]] == [
        ("rss", "ok"), ("jf", "ok"), ("gone", "failed"), ("later", None)]


def test_review_accepts_a_feed_url(tp_home, tmp_path, server, provider_env):
    server.add("/rss.xml", BAD_ITEMS)
    env = {k: str(v) for k, v in {"TOOLPANEL_HOME": tp_home, "OPENAI_BASE_URL": provider_env.base_url,
                                  "OPENAI_API_KEY": "test-key", "TOOLPANEL_MODEL": provider_env.model_id}.items()}
    r = cli("review", server.url("/rss.xml"), "--json", cwd=tmp_path, env=env)
    assert r.returncode == 1  # two items were rejected; the other two were reviewed
    data = json.loads(r.stdout)
    assert [x["slug"] for x in data["reviews"]] == ["acme-notes", "bolt-queue"]
    assert [(x["path"], x["field"], x["problem"]) for x in data["rejected"]] == [
        (f"{server.url('/rss.xml')}: item 3", "title", "has no title"),
        (f"{server.url('/rss.xml')}: item 4 \"No link\"", "link", "has no link")]
    db = tp_home / "warehouse.duckdb"
    assert rows(db, "SELECT trigger, adhoc, items, new_tools, rejected FROM source_runs") == [("review", True, 4, 2, 2)]
    assert rows(db, "SELECT slug, url, source FROM latest_snapshot ORDER BY slug") == [
        ("acme-notes", "https://acme.dev", server.url("/rss.xml")),
        ("bolt-queue", "https://boltqueue.io", server.url("/rss.xml"))]
