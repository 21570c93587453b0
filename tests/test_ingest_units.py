"""Ingest, the pure parts: canonical URLs, HTML to text, titles, parsers, identity rules, config errors."""

from __future__ import annotations

import datetime as dt

import pytest

from toolpanel.errors import ConfigError
from toolpanel.config import load_settings
from toolpanel.ingest.feeds import SourceUnreadable, parse, parse_csv, sniff
from toolpanel.ingest.identity import Candidate, Known, alternative_slug, resolve
from toolpanel.ingest.models import RawItem
from toolpanel.ingest.normalize import ItemRejected, fit, html_to_text, normalize, split_title
from toolpanel.ingest.sources import adhoc_sources, configured_sources, politeness
from toolpanel.ingest.urls import BadURL, canonical_url, identity_key
from toolpanel.models import Tool


@pytest.mark.parametrize("raw, canon", [
    ("HTTPS://Acme.DEV:443/?utm_source=rss&ref=ph#pricing", "https://acme.dev"),
    ("https://acme.dev/docs/?b=2&a=1&fbclid=x&gclid=y&mc_cid=1&mc_eid=2", "https://acme.dev/docs?a=1&b=2"),
    ("http://acme.dev:80/Path/", "http://acme.dev/Path"),
    ("http://user:pw@acme.dev:8080/x", "http://acme.dev:8080/x"),
    ("  https://acme.dev/\u200bx  ", "https://acme.dev/x"),
    ("https://huggingface.co/HuggingFaceTB/SmolVLM2-Turbo", "https://huggingface.co/HuggingFaceTB/SmolVLM2-Turbo"),
])
def test_canonical_url(raw, canon):
    assert canonical_url(raw) == canon


def test_identity_key_ignores_scheme_and_www_but_not_the_path():
    assert identity_key("https://www.acme.dev/?utm_medium=x") == identity_key("http://acme.dev") == "acme.dev"
    assert identity_key("https://acme.dev/a") != identity_key("https://acme.dev/b")


@pytest.mark.parametrize("raw, problem", [
    ("javascript:alert(1)", "'javascript:alert(1)' is not an http(s) URL"),
    ("ftp://acme.dev/x", "'ftp://acme.dev/x' is not an http(s) URL"),
    ("https://acme.dev:99999/", "'https://acme.dev:99999/' is not a valid URL: the port is not a number from 1 to "
                                "65535"),
    ("https://[::1/x", "'https://[::1/x' is not a valid URL: its IPv6 address is not enclosed in [ ]"),
    ("https://exa mple.com/some path", "'https://exa mple.com/some path' is not a valid URL: it contains a space"),
])
def test_canonical_url_refuses_what_is_not_http(raw, problem):
    with pytest.raises(BadURL) as exc:
        canonical_url(raw)
    assert exc.value.problem == problem


def test_html_to_text_drops_markup_scripts_and_invisible_characters():
    html = ("<p>Acme&nbsp;turns <b>notes</b> into&#32;tests &amp; docs.</p><script>alert('x')</script>"
            "<style>p{}</style><ul><li>One</li><li>Two\u200b\u202e</li></ul>")
    assert html_to_text(html) == "Acme turns notes into tests & docs.\n\nOne\n\nTwo"


@pytest.mark.parametrize("title, split", [
    ("Show HN: Bolt Queue – a job queue in one SQLite file", ("Bolt Queue", "a job queue in one SQLite file")),
    ("Acme Notes — notes that test themselves", ("Acme Notes", "notes that test themselves")),
    ("Kiln: serverless GPUs", ("Kiln", "serverless GPUs")),
    ("Why we rewrote our entire billing system in Rust - part 2", (
        "Why we rewrote our entire billing system in Rust - part 2", None)),
    ("Plain", ("Plain", None)),
])
def test_split_title(title, split):
    assert split_title(title) == split


def _raw(**kw) -> RawItem:
    base = dict(index=1, label="item 1", title="Acme", url="https://acme.dev", summary="A tool.")
    return RawItem(**(base | kw))


@pytest.mark.parametrize("kw, field, problem", [
    ({"title": None}, "title", "has no title"),
    ({"title": "<b> </b>"}, "title", "has no title"),
    ({"url": None}, "link", "has no link"),
    ({"url": "javascript:alert(1)"}, "link", "'javascript:alert(1)' is not an http(s) URL"),
    ({"summary": None}, "description", "is missing"),
    ({"summary": "x" * 8_001}, "description", "is 8,001 characters, over the cap of 8,000"),
    ({"launched": "last tuesday"}, "launched", "'last tuesday' is not a date"),
    ({"tagline": ["a", "b"]}, "tagline", "expected text, got a list"),
    ({"title": "T" * 301}, "name", "is 301 characters, the cap is 300"),
])
def test_normalize_rejects_with_field_and_problem(kw, field, problem):
    with pytest.raises(ItemRejected) as exc:
        normalize(_raw(**kw), source="s")
    assert (exc.value.field, exc.value.problem) == (field, problem)


def test_normalize_prefers_the_longest_text_that_fits_and_parses_dates():
    tool = normalize(_raw(summary="Short.", content="<p>" + "Long text. " * 20 + "</p>",
                          launched="2026-11-20T10:00:00Z"), source="s")
    assert tool.description.startswith("Long text.") and tool.launched == dt.date(2026, 11, 20)
    # content over the cap: the summary is used instead of refusing the item
    tool = normalize(_raw(summary="Short but fine.", content="y" * 9_000), source="s")
    assert tool.description == "Short but fine."


def test_fit_cuts_at_a_paragraph_boundary():
    first = "A first paragraph that is long enough to keep, sixty characters."
    assert fit(first + "\n\n" + "Second " * 50, 100) == first + " …"
    assert len(fit("word " * 100, 50)) <= 50


def test_sniff_and_csv_aliases():
    assert sniff(b"<?xml", "", "x") == "feed" and sniff(b"{}", "", "x") == "json"
    assert sniff(b"name,url", "text/csv", "x") == "csv" and sniff(b"", "", "list.CSV") == "csv"
    parsed = parse_csv("Title,Website,Price,Votes\nAcme,https://acme.dev,Free,12\n".encode())
    assert [(i.title, i.url, i.pricing, i.label) for i in parsed.items] == [("Acme", "https://acme.dev", "Free", "line 2")]
    assert parsed.notes == ["ignored column(s) 'Votes' — toolpanel reads name, slug, url, category, tagline, pricing, "
                            "entry, launched, description"]


@pytest.mark.parametrize("kind, data, problem", [
    ("csv", b"url,description\nhttps://a.dev,x\n", "has no 'name' (or 'title') column"),
    ("csv", b"\xff\xfename\n", "is not UTF-8 text"),
    ("json", b"{\"tools\": 3}", "is not a launch list (expected [...] or {\"tools\": [...]})"),
    ("json", b"[{", "is not valid JSON (Expecting property name enclosed in double quotes at line 1, column 3)"),
    ("jsonfeed", b"{\"items\": []}", "is not a JSON Feed (no \"version\": \"https://jsonfeed.org/version/1.1\")"),
    ("rss", b"{\"version\": \"https://jsonfeed.org/version/1.1\"}", "is JSON, not an RSS or Atom feed"),
    ("feed", b"<html><body>Launches</body></html>", "is not an RSS or Atom feed"),
])
def test_unreadable_sources(kind, data, problem):
    with pytest.raises(SourceUnreadable) as exc:
        parse(kind, data)
    assert exc.value.problem == problem


def _tool(slug, url, name=None):
    return Tool(name=name or slug.title(), slug=slug, url=url, description="d")


def test_identity_url_first_then_slug_and_no_hijack():
    known = Known(url_slugs={"acme.dev": "acme"}, slug_keys={"acme": "acme.dev", "kiln": None},
                  owners={"acme": "hn"})
    cands = [
        Candidate("ph", False, _tool("acme-notes-2", "https://www.acme.dev/?ref=ph"), "acme.dev"),  # known URL
        Candidate("ph", False, _tool("acme", "https://evil.example"), "evil.example"),  # slug hijack
        Candidate("ph", False, _tool("kiln", "https://kiln.run"), "kiln.run"),  # slug of a URL-less tool
        Candidate("ph", False, _tool("bolt", "https://bolt.io"), "bolt.io"),  # new
        Candidate("ph", False, _tool("bolt-queue", "https://bolt.io"), "bolt.io"),  # same URL again
    ]
    decisions = resolve(cands, known, {"ph"})
    assert [(d.slug, d.duplicate_of) for d in decisions] == [
        ("acme", None), (alternative_slug("acme", "evil.example"), None),
        (alternative_slug("kiln", "kiln.run"), None), ("bolt", None), ("bolt", "ph")]
    assert decisions[1].note == f"slug 'acme' belongs to another tool (acme.dev); this one is " \
                                f"'{alternative_slug('acme', 'evil.example')}'"


def test_identity_owner_speaks_for_the_tool_and_cards_outrank_feeds():
    known = Known(url_slugs={"acme.dev": "acme"}, slug_keys={"acme": "acme.dev"}, owners={"acme": "hn"})
    ph = Candidate("ph", False, _tool("acme", "https://acme.dev"), "acme.dev")
    # the owner is part of the run (even without the item today): ph's copy is a duplicate
    assert resolve([ph], known, {"hn", "ph"})[0].duplicate_of == "hn"
    # the owner is not configured any more: ph speaks for it
    assert resolve([ph], known, {"ph"})[0].duplicate_of is None
    card = Candidate("cards", True, _tool("acme", "https://acme.dev/new-home"), "acme.dev/new-home")
    assert [(d.slug, d.duplicate_of) for d in resolve([card, ph], known, {"hn", "ph", "cards"})] == [
        ("acme", None), ("acme", "cards")]


def _config(tmp_path, text: str):
    (tmp_path / "toolpanel.toml").write_text(text)
    return load_settings()


@pytest.mark.parametrize("toml, message", [
    ('[sources.hn]\nkind = "rss2"\nurl = "https://hnrss.org/show"\n',
     "[sources.hn]: kind = 'rss2' is not a source kind — use one of: cards, rss, atom, feed, jsonfeed, csv, json"),
    ('[sources.hn]\nkind = "rss"\n', '[sources.hn]: has no path or url — add url = "https://example.com/feed.xml"'),
    ('[sources.ed]\nkind = "cards"\n', '[sources.ed]: has no path — add path = "cards/"'),
    ('[sources.hn]\nkind = "rss"\nurl = "https://a.dev/f"\npath = "f.xml"\n', "[sources.hn]: has both path and url — keep one"),
    ('[sources.hn]\nurl = "https://a.dev/f"\nenrich = "yes"\n', "[sources.hn]: enrich = 'yes' must be true or false"),
    ('[sources.hn]\nurl = "https://a.dev/f"\nmax_items = 0\n',
     "[sources.hn]: max_items = 0 must be a whole number of at least 1 — e.g. max_items = 50"),
    ('[sources.hn]\nurl = "ftp://a.dev/f"\n',
     "[sources.hn]: url: 'ftp://a.dev/f' is not an http(s) URL — use a full address starting with https://"),
    ('[sources.hn]\nurl = "https://a.dev/f"\nfeed_url = "x"\n',
     "[sources.hn]: unknown key(s) feed_url — allowed: kind, path, url, category, enrich, max_items, split_title"),
])
def test_config_errors_name_file_key_and_fix(tp_home, tmp_path, toml, message):
    settings = _config(tmp_path, toml)
    with pytest.raises(ConfigError) as exc:
        configured_sources(settings)
    assert str(exc.value) == f"{tmp_path / 'toolpanel.toml'}: {message}"


@pytest.mark.parametrize("toml, message", [
    ('[sources]\ntimeout = "fast"\n', '[sources]: timeout = \'fast\' is not a number — e.g. timeout = 20.0'),
    ('[sources]\nrequests_per_host = 0\n', "[sources]: requests_per_host = 0 must be positive — e.g. "
     "requests_per_host = 10"),
    ('[sources]\nuser_agent = "me"\n', "[sources]: unknown key(s) user_agent — allowed directly under [sources]: "
     "timeout, requests_per_host, min_description; a source is a table: [sources.NAME]"),
    ('[sources]\nmax_bytes = 5000\n', "[sources]: max_bytes has moved — write it as source_bytes = 5000 under [limits] "
     "(docs/inputs.md)"),
])
def test_politeness_mistakes_stop_settings_loading_with_one_line(tp_home, tmp_path, toml, message):
    """[sources] politeness keys are typed settings: a mistake is caught when settings load, for every command."""
    with pytest.raises(ConfigError) as exc:
        _config(tmp_path, toml)
    assert str(exc.value) == f"{tmp_path / 'toolpanel.toml'}: {message}"


def test_config_kinds_paths_and_politeness(tp_home, tmp_path):
    settings = _config(tmp_path, '[sources]\ntimeout = 5\nrequests_per_host = 3\n\n'
                                 '[sources.examples]\npath = "cards"\n\n'
                                 '[sources.hn]\nkind = "rss"\nurl = "https://hnrss.org/show"\nenrich = true\n'
                                 'category = "Developer Tools"\nmax_items = 20\n\n'
                                 '[sources.sheet]\nkind = "csv"\npath = "launches.csv"\n')
    specs = configured_sources(settings)
    assert [(s.name, s.kind, s.location, s.enrich, s.max_items) for s in specs] == [
        ("examples", "cards", str(tmp_path / "cards"), False, None),
        ("hn", "rss", "https://hnrss.org/show", True, 20),
        ("sheet", "csv", str(tmp_path / "launches.csv"), False, None)]
    assert politeness(settings).model_dump() == {"timeout": 5, "requests_per_host": 3,
                                                 "min_description": 200}
    (tmp_path / "list.csv").write_text("name\n")
    adhoc = adhoc_sources(settings, ["hn", "list.csv", "https://a.dev/feed.xml", "x.md", "cards/"])
    assert [(s.name, s.kind, s.adhoc) for s in adhoc] == [
        ("hn", "rss", False), ("list.csv", "auto", True), ("https://a.dev/feed.xml", "auto", True),
        ("x.md cards", "cards", True)]
