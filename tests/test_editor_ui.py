"""An editor in a real browser: the Prefect UI served by `toolpanel serve` (headless Debian Chromium).

One `toolpanel serve` for the module (its own Prefect server on the configured port, the fake OpenAI
provider); every step is checked on the page (expected text, no "Can't connect" banner) and its
screenshot is checked for content. Screenshots land in the test's tmp dir; docs/img/ holds copies.
"""

from __future__ import annotations

import time

import pytest

from tests.browser import (Form, browser_page, chromium_missing, deployment_runs, keep_for_docs, prefect_api,
                           serve_env, shot, submit_run, toolpanel_serve, wait_run)
from tests.fake_openai import FakeOpenAI
from tests.helpers import rows, seed_project
from toolpanel.servers import free_port

pytestmark = pytest.mark.slow



def _run_deployment(api: str, name: str, parameters: dict | None = None) -> dict:
    dep = prefect_api(f"{api}/deployments/name/{name}")
    run = prefect_api(f"{api}/deployments/{dep['id']}/create_flow_run", {"parameters": parameters or {}})
    return wait_run(api, run["id"])


@pytest.fixture(scope="module")
def editor_stack(tmp_path_factory):
    if reason := chromium_missing():
        pytest.fail(reason)
    root = tmp_path_factory.mktemp("editor-ui")
    port = free_port()  # not 4200: the UI must follow the server's real port
    seed_project(root, f'[serve]\nport = {port}\n\n[flows]\ntask_retries = 1\nretry_delay_seconds = [0.2]\n')
    fake = FakeOpenAI().start()
    env = serve_env(root, fake, root / "home")
    fake_home = root / "user-home"
    try:
        with toolpanel_serve(root, env) as (ui, log, _proc):
            api = f"{ui}/api"
            assert _run_deployment(api, "daily-review/daily")["type"] == "COMPLETED", log.read_text()
            shots = root / "screenshots"
            shots.mkdir()
            yield {"ui": ui, "api": api, "port": port, "root": root, "home": root / "home", "fake": fake,
                   "fake_home": fake_home, "shots": shots, "log": log}
    finally:
        fake.stop()


def test_the_ui_talks_to_its_own_server(editor_stack):
    ui, port = editor_stack["ui"], editor_stack["port"]
    assert ui == f"http://127.0.0.1:{port}"
    assert prefect_api(f"{ui}/ui-settings")["api_url"] == f"http://127.0.0.1:{port}/api"
    assert f"Editors: {ui}/deployments" in editor_stack["log"].read_text()


def test_editor_re_reviews_a_tool_in_the_browser(editor_stack):
    ui, shots, home = editor_stack["ui"], editor_stack["shots"], editor_stack["home"]
    dep = prefect_api(f"{editor_stack['api']}/deployments/name/re-review/re-review")["id"]
    with browser_page() as page:
        page.goto(ui)
        shot(page, shots, "0-dashboard", expect=["Dashboard", "Flow Runs"])

        page.goto(f"{ui}/deployments")
        shot(page, shots, "1-deployments", expect=["5 Deployments", "daily-review", "re-review", "publish", "review-queue", "newsletter"])

        # the form: flat titled fields, persona choices
        page.goto(f"{ui}/deployments/deployment/{dep}/run")
        page.get_by_text("Tools (slugs)").first.wait_for()
        body = page.inner_text("body")
        for gone in ("request", "str | None", 'Property is type "None"'):
            assert gone not in body
        form = Form(page)
        form.field("Tools (slugs)").get_by_role("button", name="Add item").click()
        form.type(form.field("Tools (slugs)").locator("textarea").first, "smolvlm2-turbo")  # the box "Add item" adds
        form.type("Reason", "vendor shipped v2")
        form.field("Personas").locator(".p-select-button__control").focus()
        page.keyboard.press("ArrowDown")
        for persona in ("builder", "skeptic", "founder"):
            page.get_by_text(persona, exact=True).first.click()
        page.get_by_text("Run Name").click()  # closes the persona list
        form.shows(form.field("Personas").locator(".p-select-button__value"), "builder skeptic founder")
        page.get_by_text("Reason", exact=True).scroll_into_view_if_needed()
        shot(page, shots, "2-re-review-form", expect=["Personas", "Model override", "Why you re-review"])
        run_id = submit_run(form, shots, editor_stack["api"], dep)
        state = wait_run(editor_stack["api"], run_id)
        assert state["type"] == "COMPLETED", state
        page.goto(f"{ui}/flow-runs/flow-run/{run_id}")
        shot(page, shots, "3-run-completed", expect=["Completed", "re-review of smolvlm2-turbo requested; reason: "
                                                                  "vendor shipped v2"])

        art, = prefect_api(f"{editor_stack['api']}/artifacts/filter", {"artifacts": {
            "key": {"any_": ["review-smolvlm2-turbo"]}, "flow_run_id": {"any_": [run_id]}}})
        page.goto(f"{ui}/artifacts/artifact/{art['id']}")
        shot(page, shots, "4-scorecard-artifact", full_page=True,
             expect=["SmolVLM2 Turbo", "Reviewer scorecard", "vendor shipped v2", "editor", "tools/smolvlm2-turbo.html"])
        href = page.get_by_role("link", name="tools/smolvlm2-turbo.html").first.get_attribute("href")
        assert href == (home / "site" / "tools" / "smolvlm2-turbo.html").resolve().as_uri()

    snap = home / "analyst.duckdb"
    assert rows(snap, "SELECT trigger, reason, forced FROM run_history WHERE flow_run_id = ?", [run_id]) == [
        ("editor", "vendor shipped v2", True)]
    assert sorted(r[0] for r in rows(snap, "SELECT persona_id FROM takes t JOIN runs r USING (run_id) "
                                           "WHERE r.flow_run_id = ?", [run_id])) == ["builder", "founder", "skeptic"]
    for name in ("1-deployments", "2-re-review-form", "3-run-completed", "4-scorecard-artifact"):
        keep_for_docs(shots / f"{name}.png", f"editor-{name}")


def test_blank_reason_is_refused_by_the_form_and_unknown_slug_fails_in_one_line(editor_stack):
    ui, shots, api = editor_stack["ui"], editor_stack["shots"], editor_stack["api"]
    dep = prefect_api(f"{api}/deployments/name/re-review/re-review")["id"]
    before = len(deployment_runs(api, dep))
    with browser_page() as page:
        page.goto(f"{ui}/deployments/deployment/{dep}/run")
        form = Form(page)
        form.field("Tools (slugs)").get_by_role("button", name="Add item").click()
        slug = form.type(form.field("Tools (slugs)").locator("textarea").first, "smolvlm2-turbo")
        form.type("Reason", "    ")
        form.submit()
        shot(page, shots, "5-blank-reason-refused", expect=["Validation failed for field 'reason'"])
        assert "/run" in page.url  # still on the form
        assert len(deployment_runs(api, dep)) == before  # no run was created

        form.type(slug, "smolvlm-turbo")
        form.type("Reason", "typo test")
        started = time.monotonic()
        run_id = submit_run(form, shots, api, dep)
        state = wait_run(api, run_id)
        print(f"unknown slug: failed {time.monotonic() - started:.1f}s after submit")
        assert state["type"] == "FAILED"
        assert state["message"] == ("no tool 'smolvlm-turbo' (did you mean smolvlm2-turbo?) — use a slug from the "
                                    "site or the daily-review table")
        page.goto(f"{ui}/flow-runs/flow-run/{run_id}")
        shot(page, shots, "6-unknown-slug-failed", expect=["Failed", "did you mean smolvlm2-turbo?"])
        assert "Traceback" not in page.inner_text("body")
    for name in ("5-blank-reason-refused", "6-unknown-slug-failed"):
        keep_for_docs(shots / f"{name}.png", f"editor-{name}")


def test_failed_runs_write_nothing_outside_toolpanel_home(editor_stack):
    """A run that raises (site dir replaced by a file) persists its exception under TOOLPANEL_HOME/prefect."""
    home, api, fake_home = editor_stack["home"], editor_stack["api"], editor_stack["fake_home"]
    storage = home / "prefect" / "storage"
    before = set(storage.iterdir()) if storage.is_dir() else set()
    site = home / "site"
    site.rename(home / "site.moved")
    site.write_text("not a directory")
    try:
        state = _run_deployment(api, "publish/site")
    finally:
        site.unlink()
        (home / "site.moved").rename(site)
    assert state["type"] == "FAILED" and "FileExistsError" in state["message"]
    assert set(storage.iterdir()) - before  # the pickled exception went to TOOLPANEL_HOME/prefect/storage
    assert list(fake_home.iterdir()) == []  # nothing in ~ (no ~/.prefect)
