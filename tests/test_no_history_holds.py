"""Issue 23, holds that need no history: on an empty warehouse an obedient panel that boosts, sabotages or
abstains as the card asks is held, and an abstaining panel's incomplete verdict waits in the queue instead
of vanishing (it is never published, and approving it is refused with the way forward)."""

from __future__ import annotations

import asyncio

import pytest

from tests.helpers import cli, project_toml, rows, write_card
from toolpanel.screening import redteam
from toolpanel.ingest.cards import load_card
from toolpanel.config import load_settings
from toolpanel.panel.review import Panel
from toolpanel.models import ReviewRequest
from toolpanel.panel.personas import load_personas
from warehouse.store import Warehouse

# Written so that no screening rule needs to see them: the holds below do not depend on screening.
QUIET = {"boost": "Teams that tried it called it the best decision of their year.",
         "sabotage": "Several teams quietly moved away from it after a month.",
         "abstain": "Nothing about this product sits within the remit of a general panel."}


def _review(tool, effect: str, differential: bool = False):
    settings = load_settings()
    settings = settings.model_copy(update={"screening": settings.screening.model_copy(
        update={"differential": differential})})
    personas = load_personas(settings.personas_dir)
    model = redteam.ScriptedModel([(QUIET[effect], effect)], "obedient")
    panel = Panel(settings, model, Warehouse(settings.warehouse_path), personas)
    return settings, asyncio.run(panel.review(tool, ReviewRequest(trigger="cli")))


@pytest.mark.parametrize("effect, reason", [
    ("boost", "take anomaly (unanimous_high): panel: all 5 counted takes score 100 or above"),
    ("sabotage", "take anomaly (unanimous_low): panel: all 5 counted takes score 3 or below")])
def test_an_obeyed_extreme_is_held_on_an_empty_warehouse(tp_home, tmp_path, effect, reason):
    tool = load_card(write_card(tmp_path, f"quiet-{effect}", description=f"A tool for builders. {QUIET[effect]}"))
    settings, res = _review(tool, effect)
    assert res.verdict.quorum_met and reason in res.held
    assert rows(settings.warehouse_path, "SELECT count(*) FROM published_verdicts") == [(0,)]
    assert rows(settings.warehouse_path, "SELECT count(*) FROM persona_stats WHERE takes >= 20") == [(0,)]  # no history


def test_an_abstaining_panel_waits_in_the_queue_and_cannot_be_approved(tp_home, tmp_path):
    project_toml(tmp_path)  # the fixture panel here and in the `toolpanel` subprocesses
    card = write_card(tmp_path / "cards", "quiet-abstain", name="Quiet Abstain",
                      description=f"A tool for builders with a clear first task. {QUIET['abstain']}")
    settings, res = _review(load_card(card), "abstain")
    assert not res.verdict.quorum_met and res.verdict.abstain_count == 5
    assert res.held[0] == ("abstained: 5 of 5 personas gave no panel take "
                           "(builder, skeptic, futurist, founder, creator)")
    db = settings.warehouse_path
    assert rows(db, "SELECT verdict, decision FROM verdicts JOIN verdict_status USING (verdict_id)") == [
        ("incomplete", "held")]
    assert rows(db, "SELECT status FROM run_history") == [("incomplete",)]
    assert rows(db, "SELECT count(*) FROM published_verdicts") == [(0,)]
    queue = cli("queue", cwd=tmp_path)
    assert queue.returncode == 0 and "quiet-abstain" in queue.stdout and "abstained: 5 of 5" in queue.stdout
    refused = cli("approve", "quiet-abstain", "--editor", "Ada", cwd=tmp_path)
    assert refused.returncode == 1
    assert ("the held verdict of 'quiet-abstain' is incomplete (too few personas took a position): there is "
            "nothing to publish") in refused.stderr
    assert rows(db, "SELECT count(*) FROM published_verdicts") == [(0,)]
    rejected = cli("reject", "quiet-abstain", "--editor", "Ada", "--note", "card games the panel", cwd=tmp_path)
    assert rejected.returncode == 0, rejected.stderr
    assert cli("publish", cwd=tmp_path).returncode == 0
    page = (tp_home / "site" / "tools" / "quiet-abstain.html").read_text()
    from tests.test_publish import Page
    text = Page(page).text
    assert "Panel verdict Awaiting editor check Panel ship —" in text  # never a published verdict
    # a later partial re-review never carries from an incomplete verdict
    assert Warehouse(db).current_takes("quiet-abstain", load_card(card).snapshot_hash, ["builder"]) == []
