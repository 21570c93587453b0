"""Prefect flows under a session-scoped prefect_test_harness, against the fake OpenAI server."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from tests.helpers import PERSONA_IDS, rows, seed_project


@pytest.fixture(scope="session")
def prefect_harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def flow_env(prefect_harness, tp_home, provider_env, tmp_path):
    tp_home.mkdir(parents=True, exist_ok=True)
    cards = seed_project(tmp_path, '[flows]\ntask_retries = 2\nretry_delay_seconds = [0.1]\n')
    return provider_env, cards


def _run(coro):
    return asyncio.run(coro)


def test_daily_review_reviews_new_then_only_changed(flow_env, tp_home):
    from flows.reviews import daily_review

    fake, cards = flow_env
    summary = _run(daily_review())
    assert summary["seen"] == 2 and summary["new"] == 2 and summary["reviewed"] == 2
    assert fake.calls() == 10 + 2  # and each verdict's panel summary (issue 27)
    db = tp_home / "warehouse.duckdb"
    assert rows(db, "SELECT DISTINCT trigger, reason FROM runs") == [("daily", "new tool")]
    assert rows(db, "SELECT count(*) FROM runs WHERE flow_run_id IS NOT NULL")[0][0] == 2

    # nothing changed: nothing reviewed, nothing paid
    summary = _run(daily_review())
    assert summary["unchanged"] == 2 and summary["reviewed"] == 0 and fake.calls() == 10 + 2

    # a cosmetic edit (re-wrapped whitespace) is not a change; a new description is
    card = cards / "smolvlm2-turbo.md"
    card.write_text(card.read_text().replace(". ", ".\n", 1))
    assert _run(daily_review())["changed"] == 0
    card.write_text(card.read_text() + "\nNow with video input.\n")
    summary = _run(daily_review())
    assert summary["changed"] == 1 and summary["reviewed"] == 1 and fake.calls() == 15 + 3
    assert rows(db, "SELECT reason FROM runs ORDER BY started_at DESC LIMIT 1") == [("description changed",)]


def _artifacts(*keys: str) -> dict:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    async def go():
        async with get_client() as client:
            found = await client.read_latest_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=list(keys))))
            return {a.key: a.data for a in found}

    return _run(go())


def test_daily_review_publishes_artifacts(flow_env, tp_home):
    from flows.reviews import daily_review

    _run(daily_review())
    found = _artifacts("review-smolvlm2-turbo", "daily-review", "daily-review-summary")
    card = found["review-smolvlm2-turbo"]
    assert "SmolVLM2 Turbo" in card and "Reviewer scorecard" in card
    page = (tp_home / "site" / "tools" / "smolvlm2-turbo.html").resolve()
    assert page.is_file()
    # the scorecard says why, with which model and when, and links to the published page
    assert "| Trigger | daily |" in card and "| Reason | new tool |" in card
    assert "| Models | fake-model-1 |" in card and re.search(r"\| Date \| \d{4}-\d\d-\d\d \d\d:\d\d UTC \|", card)
    assert f"| Page | [tools/smolvlm2-turbo.html]({page.as_uri()}) |" in card
    # the daily table's page column is a link
    table = found["daily-review"]
    row = next(r for r in json.loads(table) if r["tool"] == "SmolVLM2 Turbo")
    assert row["why"] == "new tool" and row["page"] == f"[tools/smolvlm2-turbo.html]({page.as_uri()})"
    summary = found["daily-review-summary"]
    assert re.match(r"# Daily review: 2 tools reviewed \(\d held, 0 incomplete\) · 0 tools failed\n", summary)
    assert "| Reasons | new tool |" in summary and "tools/smolvlm2-turbo.html" in summary
    # the fusion panel splits: no page link, the reasons and where it waits (no review-queue deployment here)
    assert ("OpenRouter Model Fusion: held for an editor: Skip · 1 ship / 4 skip; split panel (1 ship / 4 skip, "
            "scores spread 46 points)") in summary
    assert "it waits in the review queue (toolpanel queue; no review-queue run could be started)" in summary


def test_page_links_use_the_published_base_url(flow_env, tp_home, tmp_path):
    from flows.reviews import daily_review

    with open(tmp_path / "toolpanel.toml", "a") as fh:
        fh.write('\n[publish]\nbase_url = "https://reviews.example.com/panel"\n')
    _run(daily_review())
    card = _artifacts("review-smolvlm2-turbo")["review-smolvlm2-turbo"]
    assert "| Page | [tools/smolvlm2-turbo.html](https://reviews.example.com/panel/tools/smolvlm2-turbo.html) |" in card


def test_re_review_records_editor_run_with_reason(flow_env, tp_home):
    from flows.reviews import daily_review, re_review

    fake, _ = flow_env
    _run(daily_review())
    state = _run(re_review(slugs=[" smolvlm2-turbo "], reason="  vendor shipped v2 ",
                           personas=["builder", "skeptic", "founder"], model="other-model", return_state=True))
    result = state.result()
    assert result["tools"] == ["smolvlm2-turbo"] and result["reviewed"] == 1
    # only the chosen personas, forced; each new verdict's panel summary (issue 27)
    assert fake.calls() == 13 + 3 and fake.calls(persona="creator") == 2
    db = tp_home / "warehouse.duckdb"
    (trigger, reason, forced, flow_run_id), = rows(
        db, "SELECT trigger, reason, forced, flow_run_id FROM runs WHERE trigger = 'editor'")
    assert (trigger, reason, forced) == ("editor", "vendor shipped v2", True) and flow_run_id
    assert rows(db, "SELECT DISTINCT model FROM takes t JOIN runs r USING (run_id) WHERE r.trigger='editor'") == [
        ("other-model",)]
    found = _artifacts("review-smolvlm2-turbo", "re-review-summary")
    card = found["review-smolvlm2-turbo"]
    assert "| Trigger | editor |" in card and "| Reason | vendor shipped v2 |" in card
    assert "| Models | fake-model-1, other-model |" in card  # the verdict counts the carried takes too
    assert card.count("_carried from run run_") == 2
    summary = found["re-review-summary"]
    assert summary.startswith("# Re-review: 1 published")
    # three personas asked again, the creator's and the futurist's current takes carried: a whole verdict
    assert re.search(r"\n- SmolVLM2 Turbo: published: Ship · \d ship / \d skip, ship \d+% "
                     r"\(carried futurist, creator from run run_\w+\) — \[tools/smolvlm2-turbo.html\]", summary), summary
    assert "| Reason | vendor shipped v2 |" in summary and "| Personas | builder, skeptic, founder |" in summary
    assert "| Takes | 3 takes asked (3 answered, 0 failed) · 0 takes cached |" in summary
    # the run's log (as the UI shows it) repeats the reason at the start and in the summary line
    logs = [m for _, m in _run_logs(state.state_details.flow_run_id)]
    said = [m for m in logs if "vendor shipped v2" in m]
    assert any(m.startswith("re-review of smolvlm2-turbo requested; reason: vendor shipped v2") for m in said)
    assert any(m.startswith("re-review summary (reason: vendor shipped v2): 1 tool reviewed (0 held, 0 incomplete) · 0 tools failed")
               for m in said)
    assert any(m.startswith("smolvlm2-turbo: published: Ship") for m in logs)


def _run_logs(flow_run_id) -> list[tuple[int, str]]:
    """What the run's log says in the Prefect UI: (level, message), read back from the API."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogHandler

    async def go():
        await APILogHandler.aflush()
        async with get_client() as client:
            logs = await client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
            return [(x.level, x.message) for x in logs]

    return _run(go())


def test_held_re_review_tells_the_editor_why_and_where_it_waits(flow_env, tp_home):
    """Issue 22: a re-review the hold rules stop says so in the run's summary artifact and log, with the
    reasons; an incomplete one says what is missing; neither says "published"."""
    from flows.reviews import daily_review, re_review

    fake, _ = flow_env
    for p in ("builder", "futurist", "founder"):  # the fusion card gets no complete verdict: nothing to carry
        fake.script("malformed", persona=p, tool="openrouter-model-fusion")
    _run(daily_review())
    for p in ("skeptic", "founder", "creator"):
        fake.script("valid", persona=p, tool="smolvlm2-turbo", score=12, verdict="skip")
    state = _run(re_review(slugs=["smolvlm2-turbo"], reason="pricing changed", return_state=True))
    result = state.result()
    assert result["outcomes"] == {"smolvlm2-turbo": "held"} and result["held"] == 1
    summary = _artifacts("re-review-summary")["re-review-summary"]
    assert summary.startswith("# Re-review: 1 held")
    outcome = re.search(r"\n## Outcome\n\n- (.*)", summary).group(1)
    assert outcome.startswith("SmolVLM2 Turbo: held for an editor: Skip · 2 ship / 3 skip; ")
    assert "split panel (2 ship / 3 skip" in outcome and "verdict flipped ship 80% → skip 40%" in outcome
    assert "published" not in outcome
    assert outcome.endswith("it waits in the review queue (toolpanel queue; no review-queue run could be started)")
    logs = _run_logs(state.state_details.flow_run_id)
    said = [m for level, m in logs if m.startswith("smolvlm2-turbo: held for an editor")]
    assert len(said) == 1 and " · 5 takes asked (5 answered, 0 failed) · 0 takes cached · 0 takes carried" in said[0]
    # the published page still shows the published verdict, with one notice
    page = (tp_home / "site" / "tools" / "smolvlm2-turbo.html").read_text()
    assert page.count('class="notice"') == 1 and "A newer review waits for an editor" in page

    # two personas asked again with nothing to carry for a new tool: incomplete, and why
    state = _run(re_review(slugs=["openrouter-model-fusion"], reason="second look", personas=["skeptic"],
                           return_state=True))
    result = state.result()
    assert result["outcomes"] == {"openrouter-model-fusion": "incomplete"}
    summary = _artifacts("re-review-summary")["re-review-summary"]
    assert "OpenRouter Model Fusion: incomplete, nothing published: " in summary and "abstained" not in summary
    logs = _run_logs(state.state_details.flow_run_id)
    assert any(level == 30 and m.startswith("openrouter-model-fusion: incomplete, nothing published: 1 position of "
                                             "the 3 a verdict needs: 4 had no current take to carry") for level, m in logs)


def test_re_review_unknown_slug_fails_in_one_line_with_close_matches(flow_env):
    from flows.reviews import daily_review, re_review

    fake, _ = flow_env
    _run(daily_review())
    state = _run(re_review(slugs=["smolvlm-turbo"], reason="typo test", return_state=True))
    assert state.is_failed()
    assert state.message == ("no tool 'smolvlm-turbo' (did you mean smolvlm2-turbo?) — use a slug from the site "
                             "or the daily-review table")
    assert fake.calls() == 10 + 2  # nothing was paid for (beyond the daily review's takes and summaries)
    summary = _artifacts("re-review-summary")["re-review-summary"]
    assert summary.startswith("# Re-review failed") and "did you mean smolvlm2-turbo?" in summary


@pytest.mark.parametrize("params, field", [
    ({"slugs": ["   "], "reason": "because"}, "slugs"),
    ({"slugs": [], "reason": "because"}, "slugs"),
    ({"slugs": ["smolvlm2-turbo"], "reason": "     "}, "reason"),
    ({"slugs": ["smolvlm2-turbo"], "reason": ""}, "reason"),
    ({"slugs": ["smolvlm2-turbo"], "reason": "why", "personas": ["critic"]}, "personas"),
])
def test_re_review_form_refuses_blank_and_unknown_values(params, field):
    """The deployment's JSON schema (what the UI and the API validate against) refuses them before a run."""
    import jsonschema
    from prefect.utilities.callables import parameter_schema

    from flows.reviews import re_review

    schema = parameter_schema(re_review).model_dump()
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(params))
    assert errors and all(e.path and e.path[0] == field for e in errors)


def test_re_review_form_is_flat_with_titles_and_choices():
    from prefect.utilities.callables import parameter_schema

    from flows.reviews import re_review

    props = parameter_schema(re_review).model_dump()["properties"]
    assert list(props) == ["slugs", "reason", "personas", "model", "force", "publish", "exceed_daily_budget"]
    assert all(p["title"] and p["description"] for p in props.values())
    assert props["personas"]["items"]["enum"] == PERSONA_IDS
    assert props["model"] == {"default": "", "description": props["model"]["description"], "position": 3,
                              "title": "Model override", "type": "string"}  # no `str | None` toggle


def test_transient_failure_is_retried_for_that_tool_paying_only_for_it(flow_env, tp_home):
    from flows.reviews import daily_review

    fake, _ = flow_env
    fake.script("429_then_ok", persona="futurist", tool="smolvlm2-turbo")
    summary = _run(daily_review())
    assert summary["reviewed"] == 2 and summary["errored"] == 0
    # the client does not retry in flows (max_retries=0): the tool's retry re-asks only the futurist
    # (and the chair's panel summary of the verdict, issue 27)
    assert fake.calls(tool="smolvlm2-turbo") == 6 + 1 and fake.calls(persona="futurist", tool="smolvlm2-turbo") == 2
    db = tp_home / "warehouse.duckdb"
    assert rows(db, "SELECT status FROM run_history WHERE slug='smolvlm2-turbo' ORDER BY started_at") == [
        ("retrying",), ("complete",)]
    assert rows(db, "SELECT count(*) FROM verdicts WHERE slug='smolvlm2-turbo'")[0][0] == 1


def _task_runs(flow_run_id: str) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    async def go():
        async with get_client() as client:
            runs = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
            return sorted(r.name for r in runs)

    return _run(go())


def test_a_task_run_reviews_a_chunk_of_tools_each_with_its_own_retry_and_scorecard(
        prefect_harness, tp_home, provider_env, tmp_path):
    from flows.reviews import daily_review
    from tests.helpers import write_card

    tp_home.mkdir(parents=True, exist_ok=True)
    cards = seed_project(tmp_path, '[flows]\ntask_retries = 2\nretry_delay_seconds = [0.1]\ntools_per_task = 2\n')
    write_card(cards, "third-tool")
    fake = provider_env
    fake.script("429_then_ok", persona="skeptic", tool="third-tool")
    summary = _run(daily_review())
    assert summary["reviewed"] == 3 and summary["errored"] == 0
    # only the failed persona of the failed tool is asked again; its chunk-mates are not
    assert fake.calls() == 16 + 3 and fake.calls(persona="skeptic", tool="third-tool") == 2  # and each verdict's panel summary (issue 27)
    flow_run_id, = {r[0] for r in rows(tp_home / "warehouse.duckdb", "SELECT flow_run_id FROM runs")}
    names = _task_runs(flow_run_id)
    # three tools, two per task run: a run named by its chunk and one named by its only tool
    assert len(names) == 2, names
    assert sum(n.startswith("review 2 tools: ") for n in names) == 1
    assert sum(n in {f"review {s}" for s in ("smolvlm2-turbo", "openrouter-model-fusion", "third-tool")}
               for n in names) == 1
    found = _artifacts("review-smolvlm2-turbo", "review-openrouter-model-fusion", "review-third-tool")
    assert len(found) == 3 and "Third Tool" in found["review-third-tool"]
    assert "| Confidence |" in found["review-third-tool"] and "## Panel summary" in found["review-third-tool"]


def test_persistent_failure_leaves_a_failed_take_and_quorum_decides(flow_env, tp_home):
    from flows.reviews import daily_review

    fake, _ = flow_env
    fake.script("500", persona="creator")
    summary = _run(daily_review())
    assert summary["reviewed"] == 2
    assert fake.calls(persona="creator", tool="smolvlm2-turbo") == 3  # 1 + task_retries=2
    db = tp_home / "warehouse.duckdb"
    assert rows(db, "SELECT DISTINCT error_class FROM takes WHERE status='failed'") == [("InternalServerError",)]
    assert rows(db, "SELECT count(*) FROM verdicts")[0][0] == 2  # 4 ok takes still meet quorum


def test_daily_cap_leaves_tools_pending_in_the_flow_and_only_the_editor_form_exceeds_it(
        prefect_harness, tp_home, provider_env, tmp_path):
    from flows.reviews import daily_review, re_review
    from tests.test_budget import _cards, _one_tool, _toml

    tp_home.mkdir(parents=True, exist_ok=True)
    env = {"TOOLPANEL_HOME": str(tp_home), "OPENAI_BASE_URL": provider_env.base_url, "OPENAI_API_KEY": "test-key",
           "TOOLPANEL_MODEL": provider_env.model_id}
    _toml(tmp_path, price=False)
    one = _one_tool(env, tmp_path)
    _cards(tmp_path, ["tool-a", "tool-b"])
    _toml(tmp_path, f"per_day_tokens = {one['est_tokens'] + one['tokens'] // 2}", price=False)
    with open(tmp_path / "toolpanel.toml", "a") as fh:
        fh.write('\n[sources.cards]\nkind = "cards"\npath = "cards"\n')
    summary = _run(daily_review())
    assert (summary["reviewed"], summary["budget_stopped"], summary["exit_code"]) == (1, 1, 5)
    assert summary["budget_cap"].startswith("per_day_tokens = ")
    db = tp_home / "warehouse.duckdb"
    (reviewed,), = rows(db, "SELECT slug FROM verdicts")
    pending = ({"tool-a", "tool-b"} - {reviewed}).pop()
    assert rows(db, "SELECT count(*) FROM runs WHERE slug = ?", [pending]) == [(0,)]

    # The next daily run still stops (same UTC day); the editor's form must say so explicitly.
    assert _run(daily_review())["budget_stopped"] == 1
    state = _run(re_review(slugs=[pending], reason="launch day", return_state=True))
    assert state.is_failed()
    assert re.match(f"re-review failed for {pending}: not reviewed: per_day_tokens = .* tick 'Exceed the daily budget'",
                    state.message), state.message
    result = _run(re_review(slugs=[pending], reason="launch day", exceed_daily_budget=True))
    assert (result["reviewed"], result["budget_stopped"]) == (1, 0)
    assert {s for (s,) in rows(db, "SELECT slug FROM verdicts")} == {"tool-a", "tool-b"}
