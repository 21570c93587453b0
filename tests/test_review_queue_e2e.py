"""The review queue end to end through a real `prefect server` and `toolpanel serve`: a daily run holds a
split verdict, the site says "awaiting editor check", the daily run starts a `review-queue` run that
suspends with a form; submitting the form (through the API, as the UI does) records the editor's
decision and the verdict appears on the site."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.helpers import rows, write_card
from tests.test_holds import script_split
from tests.test_prefect_e2e import _prefect, _start, _wait, stack  # noqa: F401  (module-scoped server + serve)
from tests.test_publish import Page

pytestmark = pytest.mark.slow
REASON = "split panel (3 ship / 2 skip, scores spread 65 points)"


async def _suspended_queue_run(client, timeout=120):
    """The newest review-queue run, once it is suspended waiting for the form."""
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = await client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["review-queue"])))
        paused = [r for r in runs if r.state and r.state.is_paused()]
        if paused:
            return max(paused, key=lambda r: r.created)
        await asyncio.sleep(0.3)
    raise AssertionError("no suspended review-queue run")


def held_daily_run(stack):  # noqa: F811
    """A daily run over a new card whose panel splits; returns the suspended review-queue run and its form."""
    from prefect.client.orchestration import get_client
    from prefect.input.run_input import keyset_from_paused_state

    write_card(stack["cards"], "split-tool", name="Split Tool")
    script_split(stack["fake"], "split-tool")

    async def go():
        async with get_client() as client:
            daily = await _wait(client, (await _start(client, "daily-review/daily", {})).id)
            assert daily.state.is_completed(), daily.state.message
            run = await _suspended_queue_run(client)
            keyset = keyset_from_paused_state(run.state)
            schema = (await client.read_flow_run_input(run.id, keyset["schema"]))
            description = (await client.read_flow_run_input(run.id, keyset["description"]))
            return run, schema, description

    return _prefect(go, stack["api"])


def test_daily_run_holds_a_split_and_the_form_publishes_it(stack):  # noqa: F811
    import json

    from prefect.client.orchestration import get_client
    from prefect.flow_runs import aresume_flow_run

    run, schema, description = held_daily_run(stack)
    home = stack["home"]
    snap = home / "analyst.duckdb"
    assert rows(snap, "SELECT decision, reasons FROM verdict_status WHERE slug = 'split-tool'") == [("held", [REASON])]
    held_before = {r[0] for r in rows(snap, "SELECT slug FROM held_verdicts")}
    page = home / "site" / "tools" / "split-tool.html"
    text = Page(page.read_text()).text
    assert "Awaiting editor check" in text and "Ship · 3 ship / 2 skip" not in text

    # the form: the editor's name (required), then per held tool a choice titled with its name and why
    form = json.loads(schema)
    assert form["required"] == ["editor"]
    field = form["properties"]["tool_split_tool"]
    assert field["title"] == "Split Tool (split-tool)"
    assert field["enum"] == ["leave held", "approve", "reject", "re-review"] and field["default"] == "leave held"
    assert "Held: split panel \\(3 ship / 2 skip, scores spread 65 points\\)" in field["description"]
    assert "Skeptic: 20/100 · skip" in field["description"]
    description = json.loads(description)
    assert "held tools wait for an editor" in description
    assert ("- **Split Tool**: split panel \\(3 ship / 2 skip, scores spread 65 points\\) — new tool → "
            "Ship · 3 ship / 2 skip \\(Split\\), panel ship 60%") in description  # with its confidence band

    async def resume():
        async with get_client() as client:
            with pytest.raises(RuntimeError):  # a blank name is refused by the form's schema
                await aresume_flow_run(run.id, run_input={"editor": "   ", "tool_split_tool": "approve"})
            await aresume_flow_run(run.id, run_input={"editor": "Ada Lovelace", "tool_split_tool": "approve",
                                                      "tool_split_tool_note": "two lenses disagree, fairly"})
            return await _wait(client, run.id)

    done = _prefect(resume, stack["api"])
    assert done.state.is_completed(), done.state.message
    assert rows(snap, "SELECT decision, editor, note, flow_run_id FROM verdict_status WHERE slug = 'split-tool'") == [
        ("approved", "Ada Lovelace", "two lenses disagree, fairly", str(run.id))]
    text = Page(page.read_text()).text
    assert "Ship · 3 ship / 2 skip" in text and "Awaiting editor check" not in text
    assert "Split Tool" in (home / "site" / "feed.xml").read_text()
    # every other held tool was left held by the form's default, and still waits
    assert {r[0] for r in rows(snap, "SELECT slug FROM held_verdicts")} == held_before - {"split-tool"}


def test_editor_deployment_re_reviews_what_the_form_asks(stack):  # noqa: F811
    """`review-queue/review-queue` started by hand shows everything held; "re-review" asks the panel again and
    the new verdict goes through the hold rules again (a split stays a split: held anew)."""
    from prefect.client.orchestration import get_client
    from prefect.flow_runs import aresume_flow_run

    home = stack["home"]
    write_card(stack["cards"], "again-tool", name="Again Tool")
    script_split(stack["fake"], "again-tool")

    async def go():
        async with get_client() as client:
            daily = await _wait(client, (await _start(client, "daily-review/daily", {})).id)
            assert daily.state.is_completed(), daily.state.message
            by_hand = await _start(client, "review-queue/review-queue", {})
            deadline = time.monotonic() + 120
            while not (run := await client.read_flow_run(by_hand.id)).state.is_paused():
                assert time.monotonic() < deadline and not run.state.is_final(), run.state
                await asyncio.sleep(0.3)
            await aresume_flow_run(by_hand.id, run_input={"editor": "Grace", "tool_again_tool": "re-review",
                                                          "tool_again_tool_note": "check the pricing page again"})
            return by_hand.id, await _wait(client, by_hand.id)

    run_id, done = _prefect(go, stack["api"])
    assert done.state.is_completed(), done.state.message
    snap = home / "analyst.duckdb"
    assert rows(snap, "SELECT trigger, reason, forced FROM run_history WHERE flow_run_id = ?", [str(run_id)]) == [
        ("editor", "re-review asked in the review queue by Grace: check the pricing page again", True)]
    # the re-review split again: held anew; the queue shows the tool once, its newest verdict
    assert rows(snap, "SELECT count(*) FROM held_verdicts WHERE slug = 'again-tool'")[0][0] == 2
    assert rows(snap, "SELECT count(*) FROM published_verdicts WHERE slug = 'again-tool'")[0][0] == 0


def _script(fake, tool: str, scores: dict[str, int]) -> None:
    for pid, score in scores.items():
        fake.script("valid", persona=pid, tool=tool, score=score, verdict="ship" if score >= 60 else "skip",
                    paragraph=f"The {pid} take on {tool}: {score}, long enough to count as a real paragraph.")


def test_partial_re_review_publishes_and_a_held_one_waits_in_the_one_form(stack):  # noqa: F811
    """Issue 22 through the Prefect API: two personas asked again make a whole published verdict (three takes
    carried); a whole-panel re-review that flips is held, starts a review-queue run (the older waiting form is
    cancelled in its favour), the re-review's summary links to it, and approving it there publishes it."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey, FlowRunFilter, FlowRunFilterId
    from prefect.flow_runs import aresume_flow_run

    home, fake = stack["home"], stack["fake"]
    write_card(stack["cards"], "carry-tool", name="Carry Tool")
    _script(fake, "carry-tool", {"builder": 82, "skeptic": 70, "futurist": 78, "founder": 74, "creator": 76})
    page = home / "site" / "tools" / "carry-tool.html"
    snap = home / "analyst.duckdb"

    async def summary_of(client, run_id) -> str:
        arts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["re-review-summary"])))
        return next(a.data for a in arts if a.flow_run_id == run_id)

    async def partial():
        async with get_client() as client:
            daily = await _wait(client, (await _start(client, "daily-review/daily", {})).id)
            assert daily.state.is_completed(), daily.state.message
            _script(fake, "carry-tool", {"skeptic": 90, "founder": 88})
            run = await _start(client, "re-review/re-review", {
                "slugs": ["carry-tool"], "reason": "second look at two lenses", "personas": ["skeptic", "founder"],
                "model": "", "force": True, "publish": True})
            done = await _wait(client, run.id)
            return run.id, done, await summary_of(client, run.id)

    run_id, done, summary = _prefect(partial, stack["api"])
    assert done.state.is_completed(), done.state.message
    assert "\n- Carry Tool: published: Ship · 5 ship / 0 skip, ship 100% (carried builder, futurist, creator" \
        in summary
    assert rows(snap, "SELECT count(*) FROM carried_takes c JOIN runs r USING (run_id) WHERE r.flow_run_id = ?",
                [str(run_id)]) == [(3,)]
    text = Page(page.read_text()).text
    assert "Ship · 5 ship / 0 skip" in text and "mean score 82.8" in text  # (82+90+78+88+76)/5

    async def held():
        async with get_client() as client:
            before = await _suspended_queue_run(client)  # the daily run's form, still waiting
            _script(fake, "carry-tool", {"skeptic": 12, "founder": 15, "creator": 10})
            run = await _start(client, "re-review/re-review", {
                "slugs": ["carry-tool"], "reason": "pricing changed", "personas": [], "model": "",
                "force": True, "publish": True})
            done = await _wait(client, run.id)
            summary = await summary_of(client, run.id)
            queue = await _suspended_queue_run(client)
            old = (await client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[before.id]))))[0]
            return done, summary, before, old, queue

    done, summary, before, old, queue = _prefect(held, stack["api"])
    assert done.state.is_completed(), done.state.message
    assert "\n- Carry Tool: held for an editor: Skip · 2 ship / 3 skip; " in summary
    assert f"it waits in review-queue run {queue.name}" in summary and f"/runs/flow-run/{queue.id})" in summary
    assert queue.id != before.id and old.state.is_cancelled()
    assert f"superseded by review-queue run {queue.name}" in old.state.message
    text = Page(page.read_text()).text
    assert "Ship · 5 ship / 0 skip" in text and "A newer review waits for an editor" in text

    async def approve():
        async with get_client() as client:
            await aresume_flow_run(queue.id, run_input={"editor": "Ada", "tool_carry_tool": "approve",
                                                        "tool_carry_tool_note": "pricing really changed"})
            return await _wait(client, queue.id)

    done = _prefect(approve, stack["api"])
    assert done.state.is_completed(), done.state.message
    text = Page(page.read_text()).text
    assert "Skip · 2 ship / 3 skip" in text and "A newer review waits for an editor" not in text
