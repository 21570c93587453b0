"""Prefect flows under a session-scoped prefect_test_harness, against the fake OpenAI server."""

from __future__ import annotations

import asyncio

import pytest

from tests.helpers import rows, seed_project


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
    assert fake.calls() == 10
    db = tp_home / "warehouse.duckdb"
    assert rows(db, "SELECT DISTINCT trigger, reason FROM runs") == [("daily", "new tool")]
    assert rows(db, "SELECT count(*) FROM runs WHERE flow_run_id IS NOT NULL")[0][0] == 2

    # nothing changed: nothing reviewed, nothing paid
    summary = _run(daily_review())
    assert summary["unchanged"] == 2 and summary["reviewed"] == 0 and fake.calls() == 10

    # a cosmetic edit (re-wrapped whitespace) is not a change; a new description is
    card = cards / "smolvlm2-turbo.md"
    card.write_text(card.read_text().replace(". ", ".\n", 1))
    assert _run(daily_review())["changed"] == 0
    card.write_text(card.read_text() + "\nNow with video input.\n")
    summary = _run(daily_review())
    assert summary["changed"] == 1 and summary["reviewed"] == 1 and fake.calls() == 15
    assert rows(db, "SELECT reason FROM runs ORDER BY started_at DESC LIMIT 1") == [("description changed",)]


def test_daily_review_publishes_artifacts(flow_env, tp_home):
    from prefect.client.orchestration import get_client

    from flows.reviews import daily_review

    _run(daily_review())

    async def artifacts():
        async with get_client() as client:
            from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
            md = await client.read_latest_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["review-smolvlm2-turbo", "daily-review"])))
            return {a.key: a for a in md}

    found = _run(artifacts())
    assert "SmolVLM2 Turbo" in found["review-smolvlm2-turbo"].data
    assert "Reviewer scorecard" in found["review-smolvlm2-turbo"].data
    table = found["daily-review"].data
    assert "SmolVLM2 Turbo" in str(table) and "new tool" in str(table)


def test_re_review_records_editor_run_with_reason(flow_env, tp_home):
    from flows.reviews import ReReviewParams, daily_review, re_review

    fake, _ = flow_env
    _run(daily_review())
    result = _run(re_review(ReReviewParams(slugs=["smolvlm2-turbo"], reason="vendor shipped v2",
                                           personas=["builder", "skeptic", "founder"], model="other-model")))
    assert result["tools"] == ["smolvlm2-turbo"] and result["reviewed"] == 1
    assert fake.calls() == 13 and fake.calls(persona="creator") == 2  # only the chosen personas, forced
    db = tp_home / "warehouse.duckdb"
    (trigger, reason, forced, flow_run_id), = rows(
        db, "SELECT trigger, reason, forced, flow_run_id FROM runs WHERE trigger = 'editor'")
    assert (trigger, reason, forced) == ("editor", "vendor shipped v2", True) and flow_run_id
    assert rows(db, "SELECT DISTINCT model FROM takes t JOIN runs r USING (run_id) WHERE r.trigger='editor'") == [
        ("other-model",)]


def test_re_review_unknown_slug_lists_close_matches(flow_env):
    from flows.reviews import ReReviewParams, daily_review, re_review

    _run(daily_review())
    with pytest.raises(ValueError, match=r"no tool 'smolvlm-turbo' in the warehouse — did you mean smolvlm2-turbo\?"):
        _run(re_review(ReReviewParams(slugs=["smolvlm-turbo"], reason="typo test")))


def test_re_review_params_validation():
    from pydantic import ValidationError

    from flows.reviews import ReReviewParams

    with pytest.raises(ValidationError, match="reason"):
        ReReviewParams(slugs=["a"], reason="")
    with pytest.raises(ValidationError, match="slugs"):
        ReReviewParams(slugs=[], reason="because")


def test_transient_failure_is_retried_by_prefect_paying_only_for_it(flow_env, tp_home):
    from flows.reviews import daily_review

    fake, _ = flow_env
    fake.script("429_then_ok", persona="futurist", tool="smolvlm2-turbo")
    summary = _run(daily_review())
    assert summary["reviewed"] == 2 and summary["errored"] == 0
    # the client does not retry in flows (max_retries=0): Prefect's task retry re-asks only the futurist
    assert fake.calls(tool="smolvlm2-turbo") == 6 and fake.calls(persona="futurist", tool="smolvlm2-turbo") == 2
    db = tp_home / "warehouse.duckdb"
    assert rows(db, "SELECT status FROM run_history WHERE slug='smolvlm2-turbo' ORDER BY started_at") == [
        ("retrying",), ("complete",)]
    assert rows(db, "SELECT count(*) FROM verdicts WHERE slug='smolvlm2-turbo'")[0][0] == 1


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
    from flows.reviews import ReReviewParams, daily_review, re_review
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
    with pytest.raises(RuntimeError, match=f"{pending}: not reviewed: per_day_tokens = .* tick 'exceed_daily_budget'"):
        _run(re_review(ReReviewParams(slugs=[pending], reason="launch day")))
    result = _run(re_review(ReReviewParams(slugs=[pending], reason="launch day"), exceed_daily_budget=True))
    assert (result["reviewed"], result["budget_stopped"]) == (1, 0)
    assert {s for (s,) in rows(db, "SELECT slug FROM verdicts")} == {"tool-a", "tool-b"}
