"""Publishing: the seed page's elements with real values, escaping, determinism, incremental writes,
community votes, and the comparison page in headless Chromium."""

from __future__ import annotations

import filecmp
import html.parser
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import SEED_A, SEED_B, cli, project_toml, write_card
from tests.test_panel import review
from toolpanel.config import load_settings
from toolpanel.publish.site import publish_site
from toolpanel.publish.render import safe_url

SEED_SCORES = {
    "smolvlm2-turbo": {"builder": 85, "skeptic": 78, "futurist": 82, "founder": 72, "creator": None},
    "openrouter-model-fusion": {"builder": 80, "skeptic": 45, "futurist": 80, "founder": None, "creator": 80},
}


class Page(html.parser.HTMLParser):
    """Visible text plus every tag and attribute, for assertions a reader (or an attacker) cares about."""

    def __init__(self, source: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.chunks: list[str] = []
        self._skip = 0
        self.feed(source)
        self.text = re.sub(r"\s+", " ", " ".join(self.chunks)).strip()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in ("style", "script", "title"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("style", "script", "title"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.chunks.append(data)


def script_seed(fake) -> None:
    for tool, scores in SEED_SCORES.items():
        for persona, score in scores.items():
            if score is None:
                fake.script("abstain", persona=persona, tool=tool)
            else:
                fake.script("valid", persona=persona, tool=tool, score=score, verdict="ship" if score >= 60 else "skip",
                            paragraph=f"The {persona} take on {tool}: concrete, specific and long enough to count.")


@pytest.fixture
def seed_site(tp_home, provider_env):
    script_seed(provider_env)
    tp_home.mkdir(parents=True, exist_ok=True)
    project_toml(tp_home, '[publish]\npairs = [["smolvlm2-turbo", "openrouter-model-fusion"]]\n')
    review([SEED_A, SEED_B])
    settings = load_settings()
    report = publish_site(settings)
    return settings.site_dir, report


def read(site: Path, rel: str) -> Page:
    return Page((site / rel).read_text(encoding="utf-8"))


def test_comparison_page_carries_every_seed_element(seed_site):
    site, report = seed_site
    assert report["warnings"] == []
    page = read(site, "compare/smolvlm2-turbo-vs-openrouter-model-fusion.html")
    t = page.text
    assert "SmolVLM2 Turbo vs OpenRouter Model Fusion" in t
    assert "Which one should you ship with?" in t
    # the decision table, side by side, with real values
    assert ("Panel verdict Ship · 4 ship / 0 skip Ship · 3 ship / 1 skip" in t)
    assert "Panel ship 100% 75%" in t
    assert "Community No community votes yet No community votes yet" in t
    assert "Pricing Free / Open weights (Apache 2.0) Pay-per-token (per model in fusion pool)" in t
    assert ("Best for Sub-2B vision-language model that actually runs on your phone Run a prompt through multiple "
            "LLMs simultaneously and fuse the best answer into one") in t
    assert "Category Developer Tools Developer Tools" in t
    # the answer, from scoring's comparison, with its reason
    assert "Ship with SmolVLM2 Turbo ." in t
    assert "SmolVLM2 Turbo wins on panel ship %: 100% vs 75%." in t
    # the reviewer scorecard side by side, per persona
    assert "Builder 85/100 · ship" in t and "80/100 · ship" in t
    assert "Skeptic 78/100 · ship" in t and "45/100 · skip" in t
    assert re.search(r"Founder 72/100 · ship The founder take on smolvlm2-turbo[^.]*\. “[^”]+” No panel take", t)
    assert re.search(r"Creator No panel take 80/100 · ship", t)
    assert page.tags[0][0] == "html" and ("html", {"lang": "en"}) in page.tags
    csp = [a for tag, a in page.tags if tag == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    # scripts: only the site's own files (the bookmarks); forms: only the signup block's origin (none set here)
    assert csp and csp[0]["content"] == ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' "
                                         "data:; base-uri 'none'; form-action 'none'")


def test_flags_and_quotes_shown_on_tool_and_comparison_pages(tp_home, provider_env):
    script_seed(provider_env)
    provider_env.script("ungrounded", persona="skeptic", tool="smolvlm2-turbo", score=78)
    provider_env.script("contradiction_then_valid", persona="builder", tool="openrouter-model-fusion", score=80)
    tp_home.mkdir(parents=True, exist_ok=True)
    project_toml(tp_home, '[publish]\npairs = [["smolvlm2-turbo", "openrouter-model-fusion"]]\n')
    review([SEED_A, SEED_B])
    site = load_settings().site_dir
    publish_site(load_settings())
    tool = read(site, "tools/smolvlm2-turbo.html")
    assert "Skeptic 78/100 · ship quote not in the card" in tool.text
    assert "“the fastest tool of its kind, trusted by every Fortune 500 company”" in tool.text
    flag = [a for tag, a in tool.tags if tag == "span" and "flag-ungrounded" in a.get("class", "")]
    assert flag and flag[0]["title"].startswith("At least one quote this take rests on does not appear")
    assert "Builder 85/100 · ship The builder take" in tool.text  # grounded, unflagged
    cmp = read(site, "compare/smolvlm2-turbo-vs-openrouter-model-fusion.html").text
    assert "78/100 · ship quote not in the card" in cmp
    assert "80/100 · ship verdict contradicted score, repaired" in cmp
    skeptic = read(site, "personas/skeptic.html").text
    assert "78/100 · ship quote not in the card" in skeptic and "Quotes found in the card 50%" in skeptic


def test_tool_page_shows_verdict_scorecard_models_and_history(seed_site, provider_env):
    site, _ = seed_site
    t = read(site, "tools/openrouter-model-fusion.html").text
    for expected in ("OpenRouter Model Fusion", "Run a prompt through multiple LLMs simultaneously",
                     "Panel verdict Ship · 3 ship / 1 skip", "Panel ship 75%", "Community No community votes yet",
                     "Pricing Pay-per-token (per model in fusion pool)", "Entry Paid", "Category Developer Tools",
                     "Founder No panel take", "Skeptic 45/100 · skip", "by fake-model-1", "Verdict history"):
        assert expected in t, expected
    svg = [a for tag, a in read(site, "tools/openrouter-model-fusion.html").tags if tag == "svg"]
    assert svg and svg[0]["role"] == "img"


def test_incomplete_rereview_keeps_previous_verdict_and_claims_no_work(seed_site, provider_env):
    site, _ = seed_site
    for p in ("builder", "skeptic", "futurist"):
        provider_env.script("malformed", persona=p, tool="smolvlm2-turbo")
    review([SEED_A], force=True)
    report = publish_site(load_settings())
    t = read(site, "tools/smolvlm2-turbo.html").text
    # the run ended: nothing is in progress (tests/test_published_truth.py covers open runs)
    assert "in progress" not in t
    assert "Panel verdict Ship · 4 ship / 0 skip" in t
    assert report["written"] < report["pages"]  # incremental


def test_community_votes_beside_the_panel(seed_site, tmp_path):
    site, _ = seed_site
    from toolpanel.ingest import votes
    from warehouse.store import Warehouse

    store = Warehouse(load_settings().warehouse_path)
    assert votes.add_vote(store, "smolvlm2-turbo", "ship") is None
    csv = tmp_path / "votes.csv"
    csv.write_text("slug,vote,voter\nsmolvlm2-turbo,ship,ann\nsmolvlm2-turbo,skip,bo\nnope,ship,cy\n")
    n, errors = votes.import_csv(store, csv)
    assert n == 2 and [str(e) for e in errors] == [
        f"{csv}:4: field 'slug': no tool 'nope' in the warehouse — review the tool first (toolpanel review CARD)"]
    report = publish_site(load_settings())
    t = read(site, "compare/smolvlm2-turbo-vs-openrouter-model-fusion.html").text
    assert "Community 2 ship / 1 skip · 67% ship (3 votes) No community votes yet" in t
    assert "tools/smolvlm2-turbo.html" in str(report) or report["written"] >= 1


def test_same_warehouse_gives_byte_identical_site_and_incremental_skips(seed_site, tmp_path):
    site, _ = seed_site
    settings = load_settings()
    other = tmp_path / "again"
    publish_site(settings, full=True, out=other)
    cmp = filecmp.dircmp(site, other)

    def diff(c):
        return c.diff_files + c.left_only + c.right_only + [f for sub in c.subdirs.values() for f in diff(sub)]
    assert diff(cmp) == []
    again = publish_site(settings)
    assert again["written"] == 0 and again["skipped"] == again["pages"]
    full = publish_site(settings, full=True)
    assert full["written"] == full["pages"]


def test_incremental_republish_equals_a_full_rebuild_after_each_kind_of_change(seed_site, provider_env, tmp_path):
    """The incremental publish loads only tools whose warehouse fingerprint changed: after a vote, a held
    re-review, an editor's approval and a changed card, it must still equal a full rebuild byte for byte."""
    from toolpanel.ingest import votes
    from warehouse.store import Warehouse

    site, _ = seed_site
    settings = load_settings()
    store = Warehouse(settings.warehouse_path)
    card = write_card(tmp_path / "cards", "flip-tool", name="Flip Tool", category="Vision")
    review([card])
    publish_site(settings)

    def changed_pages() -> dict:
        report = publish_site(settings)
        rebuilt = tmp_path / f"full-{len(list(tmp_path.glob('full-*')))}"
        publish_site(settings, full=True, out=rebuilt)
        cmp = filecmp.dircmp(site, rebuilt, ignore=[])

        def diff(c, at=""):
            return ([at + f for f in c.diff_files + c.left_only + c.right_only]
                    + [f for name, sub in c.subdirs.items() for f in diff(sub, f"{at}{name}/")])
        assert diff(cmp) == []
        return report

    assert votes.add_vote(store, "flip-tool", "skip") is None
    report = changed_pages()
    assert 1 <= report["written"] < report["pages"] / 2
    assert "1 skip" in read(site, "tools/flip-tool.html").text

    provider_env.script("valid", tool="flip-tool", score=20, verdict="skip",
                        paragraph="Now a skip: the tool broke its main promise and the docs are gone.")
    review([card], force=True, reason="vendor changed pricing")
    changed_pages()
    assert "A newer review waits for an editor" in read(site, "tools/flip-tool.html").text

    store.decide("flip-tool", "approved", editor="Ada", note="the docs are gone")
    changed_pages()
    assert "Skip · 0 ship / 5 skip" in read(site, "tools/flip-tool.html").text
    assert "Flip Tool" in read(site, "verdict-skip.html").text and "Flip Tool" not in read(site, "verdict-ship.html").text

    def stamps() -> dict:
        return {rel: (site / rel).stat().st_mtime_ns for rel in ("bookmarks-data.js", "tools/smolvlm2-turbo.html")}

    before = stamps()
    write_card(tmp_path / "cards", "flip-tool", name="Flip Tool Pro", category="Vision")
    review([card])
    changed_pages()
    assert "Flip Tool Pro" in read(site, "index.html").text
    # the Bookmarks page's data file follows the renamed tool; an unrelated tool's page is not rewritten
    after = stamps()
    assert after["bookmarks-data.js"] != before["bookmarks-data.js"] and '"Flip Tool Pro"' in (
        site / "bookmarks-data.js").read_text()
    assert after["tools/smolvlm2-turbo.html"] == before["tools/smolvlm2-turbo.html"]


@pytest.mark.parametrize("damage", [
    {".manifest.json": b"[1, 2]", ".rows.json": b'{"templates": "x", "rows": []}'},
    {".manifest.json": b"\xff\xfe not json", ".rows.json": b"\xff"},
    {".rows.json": None},  # the rows' cache with its own templates hash but rows of the wrong shape
])
def test_a_damaged_site_state_file_costs_a_rewrite_not_a_traceback(seed_site, tmp_path, damage):
    site, _ = seed_site
    settings = load_settings()
    for name, data in damage.items():
        if data is None:
            cache = json.loads((site / name).read_text(encoding="utf-8"))
            cache["rows"] = {slug: "not a row" for slug in cache["rows"]} | {"smolvlm2-turbo": [None, 7]}
            data = json.dumps(cache).encode()
        (site / name).write_bytes(data)
    for junk in (settings.home / "cache" / "templates").glob("*"):
        junk.write_bytes(b"\x00garbage")
    r = cli("publish")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    publish_site(settings, full=True, out=tmp_path / "full")
    assert (site / "index.html").read_bytes() == (tmp_path / "full" / "index.html").read_bytes()
    assert (site / ".rows.json").read_bytes() == (tmp_path / "full" / ".rows.json").read_bytes()
    assert "SmolVLM2 Turbo" in read(site, "index.html").text


def test_every_field_with_a_payload_yields_inert_pages(tp_home, provider_env, tmp_path):
    payload = '"><script>alert(1)</script><img src=x onerror=alert(2)><a href="javascript:alert(3)">x</a>'
    card = write_card(tmp_path / "cards", "evil", description=f"Evil tool. {payload}",
                      name=f"'Evil {payload}'", tagline=f"'{payload}'", pricing=f"'{payload}'",
                      entry=f"'{payload}'", category=f"'Dev {payload}'")
    provider_env.script("valid", paragraph=f"Model text is data too: {payload} and more words to pass.")
    review([card])
    from warehouse.store import Warehouse
    store = Warehouse(load_settings().warehouse_path)
    with store.transaction() as con:  # a source that slipped a javascript: URL past validation
        con.execute("UPDATE tool_snapshots SET url = 'javascript:alert(4)' WHERE slug = 'evil'")
    settings = load_settings()
    publish_site(settings)
    pages = list(settings.site_dir.rglob("*.html"))
    assert len(pages) > 5
    for path in pages:
        page = Page(path.read_text())
        for tag, attrs in page.tags:
            # the only scripts: the site's own bookmark files, by src (an inline one has no src)
            assert tag != "script" or re.fullmatch(r"(\.\./)?bookmarks(-data)?\.js", attrs.get("src") or ""), path
            assert not [a for a in attrs if a.startswith("on")], (path, tag, attrs)
            for a in ("href", "src"):
                assert not (attrs.get(a) or "").strip().lower().startswith("javascript:"), (path, tag, attrs)
    evil = (settings.site_dir / "tools" / "evil.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in evil  # shown as text, not run
    data = (settings.site_dir / "bookmarks-data.js").read_text()  # JSON: a string literal, not markup
    assert json.dumps(f"Evil {payload}", ensure_ascii=False) in data
    assert safe_url("javascript:alert(1)") == "#" and safe_url("https://x.dev/a") == "https://x.dev/a"


def test_feeds_and_digest(seed_site):
    import json
    import xml.etree.ElementTree as ET

    site, _ = seed_site
    rss = ET.parse(site / "feed.xml").getroot()
    titles = [i.findtext("title") for i in rss.iter("item")]
    # each verdict with its confidence band (scoring/band.py); one persona abstained on each: 4 of 5 voices
    assert sorted(titles) == ["OpenRouter Model Fusion: Ship · 3 ship / 1 skip (Clear · 4 of 5 voices)",
                              "SmolVLM2 Turbo: Ship · 4 ship / 0 skip (Unanimous · 4 of 5 voices)"]
    feed = json.loads((site / "feed.json").read_text())
    assert feed["version"] == "https://jsonfeed.org/version/1.1" and len(feed["items"]) == 2
    digest = read(site, "digest/index.html").text
    assert "This week's verdicts" in digest and "2 verdicts from the panel" in digest
    assert "Biggest splits" not in digest  # 45 vs 80 with 3 of 4 shipping is not a split panel
    email = (site / "digest" / next(p.name for p in (site / "digest").glob("*.email.html"))).read_text()
    assert "<style>" in email and "<link" not in email
    # the week's verdicts, each with its confidence band, on the page and in its email version
    for page in (digest, Page(email).text):
        assert ("All verdicts Tool Panel Confidence Panel ship Best for "
                "OpenRouter Model Fusion Ship · 3 ship / 1 skip Clear · 4 of 5 voices 75% Run a prompt through "
                "multiple LLMs simultaneously and fuse the best answer into one "
                "SmolVLM2 Turbo Ship · 4 ship / 0 skip Unanimous · 4 of 5 voices 100% Sub-2B vision-language") in page


def _event(slug: str, name: str, verdict: str, ships: int, skips: int, band: str | None, previous: str | None,
           at: str = "2026-12-02 10:00", spread: int = 10, split: bool = False) -> dict:
    """A feeds.events_of row, as the digest reads it."""
    import datetime as dt

    from toolpanel.models import panel_label

    return {"id": f"vd_{slug}", "slug": slug, "name": name, "at": dt.datetime.fromisoformat(at), "verdict": verdict,
            "label": panel_label(verdict, ships, skips), "ship": f"{round(100 * ships / (ships + skips))}%",
            "spread": spread, "split": split, "previous": previous, "previous_id": previous and f"vd_{slug}_0",
            "tagline": None, "reason": None, "band": band}


def test_digest_lines_and_table_carry_the_band_escaped_and_a_dash_without_one():
    """The digest (web page, email HTML part, email text part) says each verdict's band the same way: "verdict
    (band)" in lines, a Confidence column in the table; an event without a band shows "—"; names stay data."""
    from toolpanel.publish.digest import context, render_html, select_week
    from toolpanel.publish.render import env as site_env

    events = [_event("old-tool", "Old <b>Tool</b>", "ship", 3, 1, None, None),
              _event("flip", "Flip", "skip", 2, 3, "Split", "ship", spread=45, split=True),
              _event("calm", "Calm", "ship", 4, 0, "Unanimous · 4 of 5 voices", None)]
    env = site_env()
    week = select_week(events, "2026-W49")
    for email in (False, True):
        html = render_html(env, week, {}, base="https://x.example/", root="../", email=email)
        assert "Old &lt;b&gt;Tool&lt;/b&gt;" in html and "<b>Tool" not in html
        text = Page(html).text
        assert "Biggest splits Flip : Skip · 2 ship / 3 skip (Split), scores spread 45 points" in text
        assert "Changed verdicts Flip : Ship → Skip · 2 ship / 3 skip (Split)" in text
        assert ("Calm Ship · 4 ship / 0 skip Unanimous · 4 of 5 voices 100% — Flip Skip · 2 ship / 3 skip Split 40% "
                "— Old <b>Tool</b> Ship · 3 ship / 1 skip — 75% —") in text
    plain = env.get_template("digest.txt.j2").render(**context(week, {}, "https://x.example/"), unsubscribe="u")
    assert "- Calm: Ship · 4 ship / 0 skip (Unanimous · 4 of 5 voices), panel ship 100%" in plain
    assert "- Old <b>Tool</b>: Ship · 3 ship / 1 skip (—), panel ship 75%" in plain  # text: no HTML escaping
    assert "- Flip: Ship → Skip · 2 ship / 3 skip (Split)\n" in plain
    assert "- Flip: Skip · 2 ship / 3 skip (Split), scores spread 45 points" in plain


def test_index_filters_and_persona_pages(seed_site):
    site, _ = seed_site
    assert "SmolVLM2 Turbo" in read(site, "index.html").text
    dev = read(site, "category-developer-tools.html").text
    assert "OpenRouter Model Fusion" in dev and "SmolVLM2 Turbo" in dev
    assert "SmolVLM2 Turbo" in read(site, "verdict-ship.html").text
    assert "SmolVLM2 Turbo" not in read(site, "verdict-skip.html").text
    ship_sorted = read(site, "index-ship.html").text
    assert ship_sorted.index("SmolVLM2 Turbo") < ship_sorted.index("OpenRouter Model Fusion")
    skeptic = read(site, "personas/skeptic.html").text
    assert "Ship rate 50%" in skeptic and "What the Skeptic looks for" in skeptic
    assert "Quotes found in the card 100%" in skeptic


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--enable-logging=stderr", "--v=0", "--window-size=1280,2200"]


def chromium(url: str, out: Path, profile: Path) -> tuple[str, Path]:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    assert exe, "chromium not found — `make test` installs Debian's chromium (apt-get install chromium)"
    png = out / "page.png"
    r = subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={png}", url],
                       capture_output=True, text=True, timeout=90)
    return r.stderr, png


def console_errors(log: str) -> list[str]:
    return [ln for ln in log.splitlines() if "CONSOLE" in ln or "Refused to" in ln or "Uncaught" in ln]


def test_comparison_page_in_headless_chromium(seed_site, tmp_path):
    from PIL import Image

    site, _ = seed_site
    page = site / "compare" / "smolvlm2-turbo-vs-openrouter-model-fusion.html"
    log, png = chromium(page.as_uri(), tmp_path, tmp_path / "profile")
    assert console_errors(log) == []
    assert png.stat().st_size > 50_000
    img = Image.open(png).convert("RGB")
    assert img.size == (1280, 2200)
    colours = img.getcolors(maxcolors=1_000_000)
    assert len(colours) > 200  # text, badges and tables, not a blank page
    white = max(count for count, c in colours if c == (255, 255, 255))
    assert white < 0.95 * img.size[0] * img.size[1]

    # the same check notices a page the browser complains about (so the assertion above can fail)
    bad = tmp_path / "bad.html"
    bad.write_text('<meta http-equiv="Content-Security-Policy" content="script-src \'none\'">'
                   '<script>console.error("boom")</script><p>x</p>')
    log, _ = chromium(bad.as_uri(), tmp_path, tmp_path / "profile2")
    assert console_errors(log)


# -- holds: only what published_verdicts says is published reaches the site ---------------------------

def test_held_new_tool_awaits_an_editor_everywhere_public(tp_home, provider_env, tmp_path):
    from tests.test_holds import script_split
    from warehouse.store import Warehouse

    card = write_card(tmp_path / "cards", "split-tool", name="Split Tool")
    script_split(provider_env, "split-tool")
    review([card, SEED_A])
    settings = load_settings()
    site = settings.site_dir
    publish_site(settings)
    page = read(site, "tools/split-tool.html").text
    assert "Awaiting editor check" in page
    assert "Ship · 3 ship / 2 skip" not in page and "The builder take on split-tool" not in page
    assert "Awaiting editor check" in read(site, "index.html").text
    assert "Ship · 3 ship / 2 skip" not in read(site, "index.html").text
    feed = (site / "feed.xml").read_text()
    assert "Split Tool" not in feed and "SmolVLM2 Turbo" in feed
    assert "Split Tool" not in (site / "feed.json").read_text()
    assert "Split Tool" not in read(site, "digest/index.html").text
    assert "split-tool" not in read(site, "personas/builder.html").text

    Warehouse(settings.warehouse_path).decide("split-tool", "approved", editor="Ada", note="fair split")
    publish_site(settings)
    page = read(site, "tools/split-tool.html").text
    assert "Ship · 3 ship / 2 skip" in page and "The builder take on split-tool" in page
    assert "Awaiting editor check" not in page
    assert "Split Tool" in (site / "feed.xml").read_text()
    assert "split-tool" in read(site, "personas/builder.html").text


def test_held_page_awaits_an_editor_per_persona_and_no_panel_take_means_an_abstention(tp_home, provider_env,
                                                                                      tmp_path):
    """Issue 24: while a verdict waits for an editor each persona says so; once published, "No panel take" is
    an abstention only, and a failed take says that the model's reply failed."""
    from warehouse.store import Warehouse

    card = write_card(tmp_path / "cards", "gap-tool", name="Gap Tool")
    provider_env.script("abstain", persona="creator", tool="gap-tool")
    provider_env.script("500", persona="founder", tool="gap-tool")  # any failed take holds the verdict
    review([card])
    settings = load_settings()
    publish_site(settings)
    page = read(settings.site_dir, "tools/gap-tool.html").text
    for name in ("Builder", "Skeptic", "Futurist", "Founder", "Creator"):
        assert f"{name} Awaiting editor check" in page, name
    assert "No panel take" not in page and "No take" not in page

    Warehouse(settings.warehouse_path).decide("gap-tool", "approved", editor="Ada", note="the founder's reply failed")
    publish_site(settings)
    page = read(settings.site_dir, "tools/gap-tool.html").text
    assert "Founder No take (the model's reply failed)" in page
    assert "Creator No panel take" in page and page.count("No panel take") == 1
    assert "Awaiting editor check" not in page


def test_rejected_new_tool_still_awaits_an_editor_check(tp_home, provider_env, tmp_path):
    from tests.test_holds import script_split
    from warehouse.store import Warehouse

    card = write_card(tmp_path / "cards", "split-tool", name="Split Tool")
    script_split(provider_env, "split-tool")
    review([card])
    settings = load_settings()
    Warehouse(settings.warehouse_path).decide("split-tool", "rejected", editor="Ada", note="panel misread it")
    publish_site(settings)
    page = read(settings.site_dir, "tools/split-tool.html").text
    assert "Awaiting editor check" in page and "Ship · 3 ship / 2 skip" not in page


def test_held_rereview_keeps_the_published_verdict(tp_home, provider_env, tmp_path):
    card = write_card(tmp_path / "cards", "flip-tool", name="Flip Tool")
    review([card])
    provider_env.script("valid", tool="flip-tool", score=20, verdict="skip",
                        paragraph="Now a skip: the tool broke its main promise and the docs are gone.")
    review([card], force=True, reason="vendor changed pricing")
    settings = load_settings()
    publish_site(settings)
    page = read(settings.site_dir, "tools/flip-tool.html").text
    assert "Ship · 5 ship / 0 skip" in page
    assert "A newer review waits for an editor; this is the published verdict." in page
    assert "Skip · 0 ship / 5 skip" not in page and "Now a skip" not in page
    assert "a newer review waits for an editor" in read(settings.site_dir, "index.html").text


@pytest.mark.parametrize("toml, message", [
    ('[publish]\nbase_ur = "https://x.dev/"\n', "[publish]: unknown key 'base_ur' (allowed: base_url, pairs) — fix the value in toolpanel.toml or "
     "the environment"),
    ('[publish]\nbase_url = "reviews.example.com"\n',
     "[publish] base_url: 'reviews.example.com' is not an http(s) address — e.g. base_url = "
     "\"https://example.com/panel/\""),
    ('[publish]\npairs = [["a", "b", "c"]]\n', "[publish] pairs: ['a', 'b', 'c'] is not a pair of two slugs — write "
     "pairs = [[\"slug-a\", \"slug-b\"]]"),
])
def test_publish_settings_mistake_is_one_line_naming_the_key(tp_home, toml, message):
    tp_home.mkdir(parents=True, exist_ok=True)
    (tp_home / "toolpanel.toml").write_text(toml)
    r = cli("publish", env={"TOOLPANEL_HOME": str(tp_home)}, cwd=tp_home)
    assert r.returncode == 2
    assert r.stderr.strip() == f"error: {tp_home / 'toolpanel.toml'}: {message}"
