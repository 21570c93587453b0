"""Issue 22 in a real browser: an editor's re-review reaches the site, through the Prefect UI served by
`toolpanel serve` (headless Debian Chromium, the harness in tests/browser.py; the fake OpenAI server).

1. A published tool; the editor re-reviews two personas in the `re-review/re-review` form; the run says
   "published:" and the page shows the new complete verdict, the three other takes carried.
2. A published tool; the editor re-reviews the whole panel, three personas flip to skip: held. The run's
   summary names the review-queue run; the editor follows its link, fills that form (approve) and the page
   shows the approved verdict.

Mirrors `tests/test_review_queue_e2e.py::test_partial_re_review_publishes_and_a_held_one_waits_in_the_one_form`,
which does the same through the Prefect API. Every form is filled at a person's pace (`Form`).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser import (Form, browser_page, chromium_missing, prefect_api, serve_env, shot,
                           submit_run, toolpanel_serve, wait_run)
from tests.fake_openai import FakeOpenAI
from tests.helpers import rows, seed_project, write_card
from tests.test_publish import Page
from toolpanel.servers import free_port

pytestmark = pytest.mark.slow

CARRY, HELD = "ui-carry-tool", "ui-held-tool"
CARRY_NAME, HELD_NAME = "UI Carry Tool", "UI Held Tool"
# the daily run: all five ship, distinct scores, so both publish (no split, no hold)
CARRY_DAILY = {"builder": 80, "skeptic": 72, "futurist": 78, "founder": 74, "creator": 76}
HELD_DAILY = {"builder": 81, "skeptic": 71, "futurist": 79, "founder": 73, "creator": 75}


def _script(fake, tool: str, scores: dict[str, int]) -> None:
    for pid, score in scores.items():
        fake.script("valid", persona=pid, tool=tool, score=score, verdict="ship" if score >= 60 else "skip",
                    paragraph=f"The {pid} take on {tool}: {score}, long enough to count as a real paragraph.")


def _summary(api: str, run_id: str) -> dict:
    art, = prefect_api(f"{api}/artifacts/filter", {"artifacts": {
        "key": {"any_": ["re-review-summary"]}, "flow_run_id": {"any_": [run_id]}}})
    return art


@pytest.fixture(scope="module")
def rereview_stack(tmp_path_factory):
    """`toolpanel serve` (its own Prefect server), the fake provider, and a daily run that published both tools."""
    if reason := chromium_missing():
        pytest.fail(reason)
    root = tmp_path_factory.mktemp("rereview-ui")
    port = free_port()
    cards = seed_project(root, f'[serve]\nport = {port}\n\n[flows]\ntask_retries = 1\nretry_delay_seconds = [0.2]\n')
    write_card(cards, CARRY, name=CARRY_NAME)
    write_card(cards, HELD, name=HELD_NAME)
    fake = FakeOpenAI().start()
    _script(fake, CARRY, CARRY_DAILY)
    _script(fake, HELD, HELD_DAILY)
    home = root / "home"
    env = serve_env(root, fake, home)
    shots = root / "screenshots"
    shots.mkdir()
    try:
        with toolpanel_serve(root, env) as (ui, log, _proc):
            api = f"{ui}/api"
            dep = prefect_api(f"{api}/deployments/name/daily-review/daily")
            daily = prefect_api(f"{api}/deployments/{dep['id']}/create_flow_run", {"parameters": {}})
            assert wait_run(api, daily["id"])["type"] == "COMPLETED", log.read_text()
            for slug in (CARRY, HELD):
                text = Page((home / "site" / "tools" / f"{slug}.html").read_text()).text
                assert "Ship · 5 ship / 0 skip" in text, text[:2000]
            yield {"ui": ui, "api": api, "home": home, "fake": fake, "shots": shots, "log": log}
    finally:
        fake.stop()


def _open_re_review_form(page, ui: str, shots: Path, name: str):
    """As an editor: Deployments › re-review › Run › Custom run."""
    page.goto(f"{ui}/deployments")
    shot(page, shots, f"{name}-deployments", expect=["re-review", "review-queue"])
    page.locator("a[href*='/deployments/deployment/']").filter(has_text=re.compile(r"^\s*re-review\s*$")).click()
    page.wait_for_url(re.compile(r"/deployments/deployment/[0-9a-f-]+$"))
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_text("Custom run", exact=True).click()
    page.wait_for_url(re.compile(r"/run(\?|$)"))
    page.get_by_text("Tools (slugs)").first.wait_for()


def _fill_re_review(page, slug: str, reason: str, personas: list[str]) -> Form:
    form = Form(page)
    form.field("Tools (slugs)").get_by_role("button", name="Add item").click()
    form.type(form.field("Tools (slugs)").locator("textarea").first, slug)  # the box "Add item" adds
    form.type("Reason", reason)
    if personas:
        form.field("Personas").locator(".p-select-button__control").focus()
        page.keyboard.press("ArrowDown")
        for persona in personas:
            page.get_by_text(persona, exact=True).first.click()
        page.get_by_text("Run Name").click()  # closes the persona list
    form.shows(form.field("Personas").locator(".p-select-button__value"),
               " ".join(personas) if personas else "No items selected")  # none: the whole panel
    return form


def _panel_verdict(page) -> str:
    """The tool page's headline verdict (the "Panel verdict" row), as a reader sees it."""
    return page.locator("table.decision tr", has_text="Panel verdict").locator("td").inner_text().strip()


def test_partial_re_review_reaches_the_page(rereview_stack):
    ui, api, home, fake, shots = (rereview_stack[k] for k in ("ui", "api", "home", "fake", "shots"))
    dep = prefect_api(f"{api}/deployments/name/re-review/re-review")["id"]
    _script(fake, CARRY, {"skeptic": 90, "founder": 88})
    with browser_page() as page:
        _open_re_review_form(page, ui, shots, "p1")
        form = _fill_re_review(page, CARRY, "second look at two lenses", ["skeptic", "founder"])
        page.get_by_text("Reason", exact=True).scroll_into_view_if_needed()
        shot(page, shots, "p2-form-filled", expect=["Personas", "Why you re-review"])
        run_id = submit_run(form, shots, api, dep)
        state = wait_run(api, run_id)
        assert state["type"] == "COMPLETED", state

        # the run's page: its log says what became of the tool; its summary artifact says the same
        page.goto(f"{ui}/runs/flow-run/{run_id}")
        shot(page, shots, "p3-run-log", expect=["Completed", f"{CARRY}: published: Ship · 5 ship / 0 skip"])
        page.locator("li.p-tab", has_text="Artifacts").click()
        page.get_by_text("re-review-summary").first.click()
        page.wait_for_url(re.compile(r"/artifacts/artifact/"))
        shot(page, shots, "p4-summary-artifact", full_page=True,
             expect=["Re-review: 1 published", f"{CARRY_NAME}: published: Ship · 5 ship / 0 skip",
                     "carried builder, futurist, creator"])
        href = page.get_by_role("link", name=f"tools/{CARRY}.html").first.get_attribute("href")
        assert href == (home / "site" / "tools" / f"{CARRY}.html").resolve().as_uri()

        # the site: the new complete verdict, the new mean, three takes carried from the daily review
        page.goto(href)  # the summary's page link (a file:// link, which Chromium will not follow from http://)
        shot(page, shots, "p5-tool-page", full_page=True,
             expect=[CARRY_NAME, "Ship · 5 ship / 0 skip", "mean score 82.4"])  # (80+90+78+88+76)/5
        carried = page.get_by_text("Carried from the review of ")
        assert carried.count() == 3, page.inner_text("body")
        for i in range(3):
            assert carried.nth(i).is_visible()
        assert _panel_verdict(page) == "Ship · 5 ship / 0 skip"
        assert page.locator("p.notice[role=status]").count() == 0  # no "in progress", no "newer review waits"
    assert rows(home / "analyst.duckdb", "SELECT count(*) FROM carried_takes c JOIN runs r USING (run_id) "
                                         "WHERE r.flow_run_id = ?", [run_id]) == [(3,)]


def test_held_re_review_is_approved_in_the_review_queue_form(rereview_stack):
    ui, api, home, fake, shots = (rereview_stack[k] for k in ("ui", "api", "home", "fake", "shots"))
    dep = prefect_api(f"{api}/deployments/name/re-review/re-review")["id"]
    _script(fake, HELD, {"skeptic": 12, "founder": 15, "creator": 10})
    with browser_page() as page:
        _open_re_review_form(page, ui, shots, "h1")
        form = _fill_re_review(page, HELD, "pricing changed", [])  # no personas: the whole panel
        run_id = submit_run(form, shots, api, dep)
        state = wait_run(api, run_id)
        assert state["type"] == "COMPLETED", state

        # the run's log and summary: held, and which review-queue run now holds it
        page.goto(f"{ui}/runs/flow-run/{run_id}")
        shot(page, shots, "h2-run-log", expect=["Completed", f"{HELD}: held for an editor: Skip · 2 ship / 3 skip"])
        log_text = page.inner_text("body")
        queue_name = re.search(r"it waits in review-queue run (\S+)", log_text).group(1)
        page.locator("li.p-tab", has_text="Artifacts").click()
        page.get_by_text("re-review-summary").first.click()
        page.wait_for_url(re.compile(r"/artifacts/artifact/"))
        shot(page, shots, "h3-summary-artifact", full_page=True,
             expect=["Re-review: 1 held", f"{HELD_NAME}: held for an editor: Skip · 2 ship / 3 skip",
                     f"it waits in review-queue run {queue_name}", "open the review-queue form"])

        # the site meanwhile keeps the published verdict and says a newer one waits
        text = Page((home / "site" / "tools" / f"{HELD}.html").read_text()).text
        assert "Ship · 5 ship / 0 skip" in text and "A newer review waits for an editor" in text

        # follow the summary's link to the review-queue run (the UI opens it in a new tab); it waits with the form
        with page.context.expect_page() as opened:
            page.get_by_role("link", name="open the review-queue form").first.click()
        page = opened.value
        page.set_default_timeout(90_000)
        page.wait_for_url(re.compile(r"/runs/flow-run/[0-9a-f-]+$"))
        queue_id = page.url.rsplit("/", 1)[1]
        assert prefect_api(f"{api}/flow_runs/{queue_id}")["name"] == queue_name
        wait_run(api, queue_id, ("Suspended",))
        page.reload()
        shot(page, shots, "h4-queue-run-suspended", expect=[queue_name, "Suspended"])
        page.get_by_role("button", name="Resume").first.click()
        modal = page.get_by_role("dialog")
        modal.get_by_text("Resume Flow Run").first.wait_for()
        title = f"{HELD_NAME} ({HELD})"
        shot(page, shots, "h5-queue-form", expect=["held tools wait for an editor", title, "Your name (required)"])
        queue = Form(modal)
        queue.type("Your name (required)", "Grace Hopper")
        choice = queue.field(title)
        choice.locator(".p-select-button__control").focus()
        page.keyboard.press("ArrowDown")
        page.get_by_text("approve", exact=True).first.click()
        queue.shows(choice.locator(".p-select-button__value"), "approve")
        queue.type(f"{HELD_NAME}: note", "pricing really changed")
        shot(page, shots, "h6-queue-form-filled", expect=["approve"])
        queue.submit()
        state = wait_run(api, queue_id)
        assert state["type"] == "COMPLETED", state
        page.reload()
        shot(page, shots, "h7-queue-run-completed", expect=["Completed"])

        # the site: the approved verdict, no notice
        page.goto((home / "site" / "tools" / f"{HELD}.html").resolve().as_uri())
        shot(page, shots, "h8-tool-page", full_page=True, expect=[HELD_NAME, "Skip · 2 ship / 3 skip"])
        assert _panel_verdict(page) == "Skip · 2 ship / 3 skip"
        assert "A newer review waits for an editor" not in page.inner_text("body")
        assert page.locator("p.notice[role=status]").count() == 0
    # the daily verdict (published automatically), then the re-review's, approved in the form
    assert sorted(rows(home / "analyst.duckdb", "SELECT decision, editor, note FROM verdict_status WHERE slug = ?",
                       [HELD])) == [("approved", "Grace Hopper", "pricing really changed"), ("auto", None, None)]
