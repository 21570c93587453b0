"""Issue 26, the reader's side: bookmarks in a real browser (headless system Chromium, the site opened from
file://), and the pages' reader parts without one: the signup block and the CSP it needs, the published
verdicts behind the Bookmarks page, the digest's navigation and the chart's legend.

A reader's pace: every step waits for what a person would see (Playwright's `expect`), never a sleep."""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.browser import CHROMIUM, CHROMIUM_ARGS, check_screenshot, chromium_missing
from tests.helpers import SEED_A, SEED_B, write_card
from tests.test_panel import review
from tests.test_publish import Page, read, script_seed
from toolpanel.config import load_settings
from toolpanel.publish.pages import signup_target
from toolpanel.publish.site import publish_site

EVIL = "Evil <img src=x onerror=alert(1)> Tool"  # vendor text: shown as text, never markup
DATA_LINE = re.compile(r"window\.TOOLPANEL_TOOLS = (\{.*\});\n\Z", re.S)


@pytest.fixture
def reader_site(tp_home, provider_env, tmp_path):
    """The two seed tools (with their comparison page) and a tool whose name is markup."""
    script_seed(provider_env)
    tp_home.mkdir(parents=True, exist_ok=True)
    (tp_home / "toolpanel.toml").write_text('[publish]\npairs = [["smolvlm2-turbo", "openrouter-model-fusion"]]\n')
    evil = write_card(tmp_path / "cards", "evil-tool", name=f"'{EVIL}'")
    review([SEED_A, SEED_B, evil])
    settings = load_settings()
    publish_site(settings)
    return settings.site_dir


@contextmanager
def reader(*, javascript: bool = True):
    """A reader's page in headless system Chromium (no downloaded browser); fails the test on any console error
    or uncaught exception (a script refused by the CSP is a console error)."""
    from playwright.sync_api import sync_playwright

    if reason := chromium_missing():
        pytest.fail(reason)  # CI included: a browser test that cannot run fails, it is not skipped
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=javascript)
            page = context.new_page()
            page.set_default_timeout(30_000)
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("dialog", lambda d: errors.append(f"a dialog opened: {d.message}"))
            yield page
        finally:
            browser.close()
    assert errors == []


def snap(page, path: Path, *, sparse: bool = False) -> Path:
    """A full-page screenshot that shows something. The Bookmarks page is mostly white by design (a short list):
    for it, a few hundred colours of text and buttons, not the share of white, are what shows it rendered."""
    from PIL import Image

    page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
    if not sparse:
        check_screenshot(path, min_height=300)
    with Image.open(path) as img:
        assert img.width == 1280 and len(img.convert("RGB").getcolors(maxcolors=1 << 20) or []) > 100, path
    return path


def bookmarks_page_shows(page, site: Path, name: str, verdict: str) -> None:
    """Open the Bookmarks page from the site's navigation and find `name` with its published verdict."""
    from playwright.sync_api import expect

    page.get_by_role("navigation", name="Site").get_by_role("link", name="Bookmarks").click()
    expect(page).to_have_url((site / "bookmarks.html").as_uri())
    entry = page.locator(".bookmark-item").filter(has_text=name)
    expect(entry).to_have_count(1)
    expect(entry.locator(".bookmark-verdict")).to_have_text(verdict)
    expect(page.get_by_text("No bookmarks yet")).to_be_hidden()


def remove_and_see_empty(page, name: str) -> None:
    from playwright.sync_api import expect

    page.get_by_role("button", name=f"Remove {name}").click()
    expect(page.locator(".bookmark-item")).to_have_count(0)
    expect(page.get_by_text("No bookmarks yet — Bookmark tools to save them for later.")).to_be_visible()
    page.reload()  # gone for good, not only from the list on screen
    expect(page.get_by_text("No bookmarks yet — Bookmark tools to save them for later.")).to_be_visible()


def test_reader_bookmarks_a_tool_on_its_page_reloads_and_finds_it_then_removes_it(reader_site, tmp_path):
    from playwright.sync_api import expect

    site = reader_site
    with reader() as page:
        page.goto((site / "tools" / "openrouter-model-fusion.html").as_uri())
        button = page.get_by_role("button", name="Bookmark OpenRouter Model Fusion")
        expect(button).to_be_visible()
        expect(button).to_have_attribute("aria-pressed", "false")
        button.click()
        expect(button).to_have_attribute("aria-pressed", "true")
        page.reload()
        expect(page.get_by_role("button", name="Bookmark OpenRouter Model Fusion")).to_have_attribute(
            "aria-pressed", "true")
        snap(page, tmp_path / "1-tool-page-bookmarked.png")

        bookmarks_page_shows(page, site, "OpenRouter Model Fusion", "Ship · 3 ship / 1 skip")
        expect(page.get_by_text("need JavaScript")).to_be_hidden()
        snap(page, tmp_path / "2-bookmarks.png", sparse=True)
        link = page.get_by_role("link", name="OpenRouter Model Fusion")
        expect(link).to_have_attribute("href", "tools/openrouter-model-fusion.html")

        remove_and_see_empty(page, "OpenRouter Model Fusion")
        snap(page, tmp_path / "3-bookmarks-empty.png", sparse=True)


def test_reader_bookmarks_from_an_index_row_and_a_comparison_page(reader_site, tmp_path):
    from playwright.sync_api import expect

    site = reader_site
    with reader() as page:
        page.goto((site / "index.html").as_uri())
        row = page.get_by_role("row").filter(has_text="SmolVLM2 Turbo")
        row.get_by_role("button", name="Bookmark SmolVLM2 Turbo").click()
        expect(row.get_by_role("button", name="Bookmark SmolVLM2 Turbo")).to_have_attribute("aria-pressed", "true")
        # a name that is markup is bookmarked as the text it is
        page.get_by_role("row").filter(has_text=EVIL).get_by_role("button", name=f"Bookmark {EVIL}").click()
        page.reload()
        expect(page.get_by_role("button", name="Bookmark SmolVLM2 Turbo")).to_have_attribute("aria-pressed", "true")
        expect(page.get_by_role("button", name="Bookmark OpenRouter Model Fusion")).to_have_attribute(
            "aria-pressed", "false")
        snap(page, tmp_path / "1-index.png")

        # the comparison page has a button per tool, and knows what was saved on the index
        page.goto((site / "compare" / "smolvlm2-turbo-vs-openrouter-model-fusion.html").as_uri())
        expect(page.locator("button.bookmark:visible")).to_have_count(2)
        expect(page.get_by_role("button", name="Bookmark SmolVLM2 Turbo")).to_have_attribute("aria-pressed", "true")
        snap(page, tmp_path / "1b-comparison.png")

        bookmarks_page_shows(page, site, "SmolVLM2 Turbo", "Ship · 4 ship / 0 skip")
        evil = page.locator(".bookmark-item").filter(has_text=EVIL)
        expect(evil).to_have_count(1)
        assert page.locator(".bookmark-list img").count() == 0
        expect(page.locator(".bookmark-item")).to_have_count(2)
        expect(page.locator(".bookmark-item").first).to_contain_text(EVIL)  # the newest first
        snap(page, tmp_path / "2-bookmarks.png", sparse=True)

        page.get_by_role("button", name=f"Remove {EVIL}").click()
        expect(page.locator(".bookmark-item")).to_have_count(1)
        remove_and_see_empty(page, "SmolVLM2 Turbo")
        page.goto((site / "index.html").as_uri())
        expect(page.get_by_role("button", name="Bookmark SmolVLM2 Turbo")).to_have_attribute("aria-pressed", "false")


def test_without_javascript_no_bookmark_button_and_every_page_still_works(reader_site, tmp_path):
    from playwright.sync_api import expect

    site = reader_site
    with reader(javascript=False) as page:
        for rel, text in (("index.html", "SmolVLM2 Turbo"), ("tools/smolvlm2-turbo.html", "Ship · 4 ship / 0 skip"),
                          ("compare/smolvlm2-turbo-vs-openrouter-model-fusion.html", "Ship with SmolVLM2 Turbo"),
                          ("digest/index.html", "This week's verdicts")):
            page.goto((site / rel).as_uri())
            expect(page.get_by_text(text).first).to_be_visible()
            assert page.locator("button.bookmark").count() >= (not rel.startswith("digest"))  # there, but hidden
            expect(page.locator("button.bookmark:visible")).to_have_count(0)
            expect(page.get_by_role("button", name=re.compile("Bookmark"))).to_have_count(0)
            expect(page.get_by_role("navigation", name="Site").get_by_role("link", name="Bookmarks")).to_be_visible()
        snap(page, tmp_path / "1-digest-no-js.png")
        page.goto((site / "tools" / "smolvlm2-turbo.html").as_uri())
        expect(page.get_by_text("Weekly AI Tool Verdicts")).to_be_visible()
        expect(page.locator(".chart-legend")).to_have_text("Mean score (solid line)Panel ship % (dashed line)")
        snap(page, tmp_path / "2-tool-no-js.png")
        page.goto((site / "bookmarks.html").as_uri())
        expect(page.get_by_text("Bookmarks are kept by your browser and need JavaScript")).to_be_visible()
        expect(page.get_by_text("No bookmarks yet")).to_be_hidden()
        snap(page, tmp_path / "3-bookmarks-no-js.png", sparse=True)


# -- the pages' reader parts, no browser ---------------------------------------------------------------

SIGNUP_PAGES = ("index.html", "verdict-ship.html", "category-developer-tools.html", "tools/smolvlm2-turbo.html",
                "compare/smolvlm2-turbo-vs-openrouter-model-fusion.html")
OTHER_PAGES = ("bookmarks.html", "personas/index.html", "compare/index.html", "digest/index.html")


def csp(page: Page) -> dict[str, str]:
    [meta] = [a for tag, a in page.tags if tag == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    return dict(d.strip().split(" ", 1) for d in meta["content"].split(";"))


def test_signup_block_links_feeds_and_digest_until_a_signup_url_is_set(reader_site):
    site = reader_site
    for rel in SIGNUP_PAGES:
        page, up = read(site, rel), "../" * rel.count("/")
        assert "Weekly AI Tool Verdicts Get the next comparison in your inbox New AI tools ship daily. We compare " \
               "them before you waste an afternoon." in page.text, rel
        assert not [t for t, _ in page.tags if t in ("form", "input")], rel  # never a dead form
        links = {a.get("href") for t, a in page.tags if t == "a"}
        assert {f"{up}feed.xml", f"{up}feed.json", f"{up}digest/index.html"} <= links, rel
        policy = csp(page)
        assert policy["script-src"] == "'self'" and policy["form-action"] == "'none'", rel
        assert policy["default-src"] == "'none'" and policy["base-uri"] == "'none'", rel
    for rel in OTHER_PAGES:
        assert "Weekly AI Tool Verdicts Get the next" not in read(site, rel).text, rel
        assert csp(read(site, rel))["form-action"] == "'none'", rel

    (load_settings().home / "toolpanel.toml").write_text(
        '[publish]\npairs = [["smolvlm2-turbo", "openrouter-model-fusion"]]\n'
        '[newsletter]\nsignup_url = "https://Lists.Example.com:8443/subscribe?list=7&x=1"\n')
    report = publish_site(load_settings())
    showing = [*site.glob("index*.html"), *site.glob("category-*.html"), *site.glob("verdict-*.html"),
               *site.glob("tools/*.html"), *(p for p in site.glob("compare/*.html") if p.name != "index.html")]
    assert report["written"] == len(showing)  # exactly the pages that show the block
    for rel in SIGNUP_PAGES:
        page = read(site, rel)
        [form] = [a for t, a in page.tags if t == "form"]
        assert form["method"] == "post" and form["action"] == "https://Lists.Example.com:8443/subscribe?list=7&x=1"
        assert ("input", {"id": "signup-email", "type": "email", "name": "email", "autocomplete": "email",
                          "required": None}) in page.tags
        assert csp(page)["form-action"] == "https://lists.example.com:8443", rel  # that origin only
    for rel in OTHER_PAGES:
        assert csp(read(site, rel))["form-action"] == "'none'", rel


@pytest.mark.parametrize("url, origin", [
    ("https://lists.example.com/subscribe", "https://lists.example.com"),
    ("http://localhost:8025/s?a=1", "http://localhost:8025"),
    ("https://bücher.example/join", "https://xn--bcher-kva.example"),
    ("", None),
])
def test_the_signup_origin_is_computed_for_the_csp(url, origin):
    assert (signup_target(url) or {}).get("origin") == origin


@pytest.mark.parametrize("url", ["https://x.com; script-src *", "https://x.com:99999/", "https://u:p@x.com/",
                                 "https://[::1]/s", "ftp://x.com/", "https://", "https://x.com'/"])
def test_a_signup_url_no_csp_source_can_name_is_a_warning_and_the_block_links_the_feeds(reader_site, url):
    with pytest.raises(ValueError):
        signup_target(url)
    site = reader_site
    settings = load_settings()
    settings.newsletter.signup_url = url  # as if typed in toolpanel.toml (the section only checks the scheme)
    report = publish_site(settings)
    assert report["warnings"] == [f"[newsletter] signup_url: {url!r} {_reason(url)} — the signup block links "
                                  "the feeds and the digest instead"]
    page = read(site, "index.html")
    assert csp(page)["form-action"] == "'none'" and not [t for t, _ in page.tags if t == "form"]


def _reason(url: str) -> str:
    try:
        signup_target(url)
    except ValueError as exc:
        return str(exc)
    raise AssertionError(url)


def data_of(site: Path) -> dict:
    match = DATA_LINE.search((site / "bookmarks-data.js").read_text(encoding="utf-8"))
    assert match, "bookmarks-data.js assigns one JSON object to window.TOOLPANEL_TOOLS"
    return json.loads(match.group(1))


def test_bookmarks_data_holds_the_published_verdict_as_the_pages_show_it(tp_home, provider_env, tmp_path):
    from tests.test_holds import script_split
    from warehouse.store import Warehouse

    flip = write_card(tmp_path / "cards", "flip-tool", name="Flip Tool")
    split = write_card(tmp_path / "cards", "split-tool", name="Split Tool")
    script_split(provider_env, "split-tool")
    review([flip, split])
    provider_env.script("valid", tool="flip-tool", score=20, verdict="skip",
                        paragraph="Now a skip: the tool broke its main promise and the docs are gone.")
    review([flip], force=True, reason="vendor changed pricing")  # held: a newer review waits for an editor
    settings = load_settings()
    site = settings.site_dir
    publish_site(settings)
    data = data_of(site)
    assert data == {"flip-tool": ["Flip Tool", "Ship · 5 ship / 0 skip", "tools/flip-tool.html"],
                    "split-tool": ["Split Tool", "Awaiting editor check", "tools/split-tool.html"]}
    for slug, (_, verdict, path) in data.items():  # the very words of the tool's page
        assert f"Panel verdict {verdict}" in read(site, path).text
    assert "Skip · 0 ship / 5 skip" not in (site / "bookmarks-data.js").read_text()

    Warehouse(settings.warehouse_path).decide("flip-tool", "approved", editor="Ada", note="the docs are gone")
    report = publish_site(settings)
    assert data_of(site)["flip-tool"][1] == "Skip · 0 ship / 5 skip"
    assert report["written"] < report["pages"]


def test_bookmarks_files_and_page(reader_site):
    site = reader_site
    page = read(site, "bookmarks.html")
    scripts = [a["src"] for t, a in page.tags if t == "script"]
    assert scripts == ["bookmarks-data.js", "bookmarks.js"]
    assert "No bookmarks yet — Bookmark tools to save them for later." in page.text
    script = (site / "bookmarks.js").read_text()
    assert "innerHTML" not in script and "localStorage" in script and "fetch(" not in script
    for rel in ("index.html", "tools/smolvlm2-turbo.html", "compare/smolvlm2-turbo-vs-openrouter-model-fusion.html"):
        p = read(site, rel)
        buttons = [a for t, a in p.tags if t == "button" and "bookmark" in a.get("class", "").split()]
        assert buttons and all("hidden" in a for a in buttons), rel  # shown by the script only
        assert [a["src"] for t, a in p.tags if t == "script"] == ["../" * rel.count("/") + "bookmarks.js"]
    nav = [a["href"] for t, a in read(site, "tools/smolvlm2-turbo.html").tags if t == "a"]
    assert "../bookmarks.html" in nav


def test_digest_page_has_the_site_navigation_and_its_email_stays_self_contained(reader_site):
    site = reader_site
    web = read(site, "digest/index.html")
    hrefs = [a.get("href") for t, a in web.tags if t == "a"]
    for target in ("../index.html", "../compare/index.html", "../personas/index.html", "../bookmarks.html",
                   "../feed.xml"):
        assert target in hrefs, target
    assert ("nav", {"aria-label": "Site"}) in web.tags and "This week's verdicts" in web.text
    email_path = next((site / "digest").glob("*.email.html"))
    email = Page(email_path.read_text(encoding="utf-8"))
    assert not [t for t, _ in email.tags if t in ("nav", "header", "script", "link", "form")]
    assert "<style>" in email_path.read_text()
    assert "Email version" not in email.text and "This week's verdicts" in email.text


def test_the_chart_legend_is_text_on_the_page(reader_site):
    site = reader_site
    page = read(site, "tools/smolvlm2-turbo.html")
    assert "Mean score (solid line) Panel ship % (dashed line) When Verdict Panel ship" in page.text
    keys = [a["class"] for t, a in page.tags if t == "span" and a.get("class", "").startswith("key ")]
    assert keys == ["key key-score", "key key-ship"]
