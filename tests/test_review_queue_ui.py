"""An editor clears the review queue in a real browser: the Prefect UI served by `toolpanel serve`
(headless Debian Chromium, the harness in tests/browser.py). A daily run holds a split verdict, the
site says "Awaiting editor check"; the editor opens the suspended review-queue run, presses Resume,
fills the form (name, approve, note) and submits; the verdict appears on the site."""

from __future__ import annotations


import pytest

from tests.browser import prefect_api, serve_env, wait_run
from tests.fake_openai import FakeOpenAI
from tests.helpers import rows, seed_project, write_card
from tests.test_holds import script_split
from tests.test_publish import Page

pytestmark = pytest.mark.slow



def test_editor_approves_a_held_verdict_in_the_prefect_ui(tmp_path):
    from tests.browser import Form, browser_page, chromium_missing, keep_for_docs, shot, toolpanel_serve
    from toolpanel.servers import free_port

    if reason := chromium_missing():
        pytest.fail(reason)
    root = tmp_path
    port = free_port()
    cards = seed_project(root, f'[serve]\nport = {port}\n\n[flows]\ntask_retries = 1\nretry_delay_seconds = [0.2]\n')
    write_card(cards, "split-tool", name="Split Tool")
    fake = FakeOpenAI().start()
    script_split(fake, "split-tool")
    home = root / "home"
    env = serve_env(root, fake, home)
    shots = root / "screenshots"
    shots.mkdir()
    try:
        with toolpanel_serve(root, env) as (ui, log, _proc):
            api = f"{ui}/api"
            dep = prefect_api(f"{api}/deployments/name/daily-review/daily")
            daily = prefect_api(f"{api}/deployments/{dep['id']}/create_flow_run", {"parameters": {}})
            assert wait_run(api, daily["id"], ("COMPLETED", "FAILED", "CRASHED"))["type"] == "COMPLETED", \
                log.read_text()
            queue_dep = prefect_api(f"{api}/deployments/name/review-queue/review-queue")
            runs = prefect_api(f"{api}/flow_runs/filter", {"deployments": {"id": {"any_": [queue_dep["id"]]}}})
            assert len(runs) == 1, runs
            run_id = runs[0]["id"]
            wait_run(api, run_id, ("Suspended",))
            page_file = home / "site" / "tools" / "split-tool.html"
            assert "Awaiting editor check" in Page(page_file.read_text()).text

            with browser_page() as page:
                page.goto(f"{ui}/runs/flow-run/{run_id}")
                shot(page, shots, "1-queue-run-suspended", expect=["Suspended"])
                page.get_by_role("button", name="Resume").first.click()
                modal = page.get_by_role("dialog")
                modal.get_by_text("Resume Flow Run").first.wait_for()
                shot(page, shots, "2-queue-form", expect=["held tools wait for an editor", "Split Tool (split-tool)",
                                                          "Your name (required)"])
                body = modal.inner_text()
                assert "split panel (3 ship / 2 skip, scores spread 65 points)" in body
                # the form: the name, then per tool a choice (a Prefect select) and a note (a textarea)
                form = Form(modal)
                form.type("Your name (required)", "Ada Lovelace")
                choice = form.field("Split Tool (split-tool)")
                choice.locator(".p-select-button__control").focus()
                page.keyboard.press("ArrowDown")
                page.get_by_text("approve", exact=True).first.click()
                form.shows(choice.locator(".p-select-button__value"), "approve")
                form.type("Split Tool: note", "two lenses disagree, fairly")
                shot(page, shots, "3-queue-form-filled", expect=["approve"])
                form.submit()
                state = wait_run(api, run_id, ("COMPLETED", "FAILED", "CRASHED"))
                assert state["type"] == "COMPLETED", state
                page.reload()
                shot(page, shots, "4-queue-run-completed", expect=["Completed"])
    finally:
        fake.stop()
    snap = home / "analyst.duckdb"
    assert rows(snap, "SELECT decision, editor, note FROM verdict_status WHERE slug = 'split-tool'") == [
        ("approved", "Ada Lovelace", "two lenses disagree, fairly")]
    text = Page(page_file.read_text()).text
    assert "Ship · 3 ship / 2 skip" in text and "Awaiting editor check" not in text
    for name, target in (("2-queue-form", "review-queue-form"), ("3-queue-form-filled", "review-queue-form-filled")):
        keep_for_docs(shots / f"{name}.png", target)
