"""Issue 22: a partial re-review makes a whole verdict from the chosen personas' new takes and the other
personas' current takes, records which were carried and from which run, and meets quorum and every hold
rule as one verdict."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.rules import panel_verdict, shortfall
from tests.fake_model import take
from tests.helpers import PERSONA_IDS, REMOTE_LIKE, SEED_A, cli, project_toml, rows
from toolpanel.ingest.cards import load_cards
from toolpanel.config import load_settings
from toolpanel.models import Take
from toolpanel.panel.personas import load_personas
from toolpanel.panel.batch import run_review
from toolpanel.panel.summary import RunSummary


def partial(only=None, force=True, reason="second look"):
    """Review SEED_A with the whole panel loaded, asking only `only` again (None: everyone)."""
    settings = load_settings(timeout=2.0, max_retries=1)
    personas = load_personas(settings.personas_dir)
    tools, errors = load_cards([SEED_A])
    assert not errors
    batch = run_review(settings, personas, tools, force=force, reason=reason, only=only)
    return settings, batch.results[0]


def test_two_personas_asked_again_complete_the_published_verdict(fake_model):
    fake = fake_model
    settings, first = partial(force=False)
    assert first.verdict.quorum_met and not first.held
    fake.requests.clear()
    fake.enqueue("skeptic", take(70, "ship"))
    fake.enqueue("founder", take(66, "ship"))
    _, second = partial(["skeptic", "founder"])
    # the two takes, then the chair's panel summary of the combined verdict (issue 27)
    assert fake.calls() == 3 and {r.persona for r in fake.requests} == {"skeptic", "founder", "chair"}
    v = second.verdict
    assert v.quorum_met and v.ship_count + v.skip_count == 5 and v.missing == []
    old = {t.persona_id: t.take_id for t in first.takes}
    assert {c.persona_id: c.take_id for c in v.carried} == {p: old[p] for p in ("builder", "futurist", "creator")}
    assert {c.from_run_id for c in v.carried} == {first.run_id}
    db = settings.warehouse_path
    assert rows(db, "SELECT persona_id, take_id, from_run_id FROM carried_takes ORDER BY persona_id") == [
        (p, old[p], first.run_id) for p in ("builder", "creator", "futurist")]
    # the new verdict is published (no hold rule fired) and counts all five takes
    (pub_run, take_ids), = rows(db, "SELECT run_id, take_ids FROM published_verdicts")
    assert pub_run == second.run_id and len(take_ids) == 5
    assert set(take_ids) >= {old["builder"], old["futurist"], old["creator"]}
    assert not set(take_ids) & {old["skeptic"], old["founder"]}
    # the page shows the whole new verdict and says which takes were carried, and from when
    from tests.test_publish import Page
    from toolpanel.publish.site import publish_site

    publish_site(settings)
    page = Page((settings.site_dir / "tools" / "smolvlm2-turbo.html").read_text()).text
    assert page.count("Carried from the review of ") == 3 and "not asked again in this re-review" in page
    assert second.verdict.label in page and "Skeptic 70/100 · ship" in page


def test_the_hold_rules_see_the_combined_verdict(fake_model):
    fake = fake_model
    fake.reply = take(80, "ship")
    partial(force=False)
    fake.enqueue("skeptic", take(20, "skip"))
    fake.enqueue("founder", take(25, "skip"))
    settings, second = partial(["skeptic", "founder"])
    # 3 ship (carried) / 2 skip (new): a split panel over the whole verdict, not "2 skip, incomplete"
    assert second.verdict.quorum_met and (second.verdict.ship_count, second.verdict.skip_count) == (3, 2)
    assert any("split panel" in r for r in second.held)
    assert rows(settings.warehouse_path, "SELECT count(*) FROM held_verdicts")[0][0] == 1


def test_nothing_published_carries_the_latest_complete_verdict(fake_model):
    fake = fake_model
    fake.reply = take(80, "ship")
    fake.enqueue("skeptic", take(10, "skip"))
    fake.enqueue("founder", take(15, "skip"))
    settings, held = partial(force=False)
    assert held.held  # split: nothing published yet
    fake.enqueue("skeptic", take(75, "ship"))
    fake.enqueue("founder", take(72, "ship"))
    _, second = partial(["skeptic", "founder"])
    assert second.verdict.quorum_met and second.verdict.ship_count == 5
    assert {c.from_run_id for c in second.verdict.carried} == {held.run_id}


def test_no_current_take_says_what_is_missing_not_abstained(fake_model):
    settings, res = partial(["skeptic", "founder"], force=False)
    v = res.verdict
    assert not v.quorum_met and v.abstain_count == 0
    assert v.missing == ["builder", "futurist", "creator"]
    assert shortfall(v) == "2 positions of the 3 a verdict needs: 3 had no current take to carry (builder, futurist, creator)"
    line = RunSummary.of([res]).line()
    assert "too many abstained" not in line
    assert "1 without quorum: personas not asked had no current take to carry, re-review the whole panel)" in line


def test_failed_takes_are_not_carried(fake_model):
    from tests.fake_model import status_error

    fake = fake_model
    fake.enqueue("creator", status_error(400))
    settings, first = partial(force=False)
    assert first.verdict.quorum_met and first.verdict.failed_count == 1
    _, second = partial(["skeptic"])
    assert "creator" in second.verdict.missing and second.verdict.failed_count == 0
    assert {c.persona_id for c in second.verdict.carried} == {"builder", "futurist", "founder"}


def test_cli_review_of_two_personas_marks_the_carried_takes(tp_home, provider_env, tmp_path):
    import os

    env = {k: os.environ[k] for k in ("TOOLPANEL_HOME", "OPENAI_BASE_URL", "OPENAI_API_KEY", "TOOLPANEL_MODEL")}
    project_toml(tmp_path, REMOTE_LIKE)
    first = cli("review", str(SEED_A), env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    provider_env.requests.clear()
    r = cli("review", str(SEED_A), "--persona", "skeptic", "--persona", "founder", "--force", "--reason",
            "second look", env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert len(provider_env.requests) == 2 + 1  # and the chair's panel summary of each new verdict (issue 27)
    (run_id,), = rows(tp_home / "warehouse.duckdb", "SELECT DISTINCT from_run_id FROM carried_takes")
    assert r.stdout.count(f"carried from run {run_id} (not asked again)") == 3
    assert ("1 tool reviewed (0 held, 0 incomplete) · 0 tools failed · 0 inputs rejected · 2 takes asked "
            "(2 answered, 0 failed) · ") in r.stdout
    assert "too many abstained" not in r.stdout and "incomplete:" not in r.stdout


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["asked", "carried", "missing"]),
                          st.sampled_from(["ok", "abstained", "failed"]), st.integers(0, 100)),
                min_size=5, max_size=5))
def test_panel_verdict_counts_every_persona_once(panel):
    """Generated panels: whatever mix of asked, carried and missing personas, the verdict counts each
    persona once, lists exactly the personas with no take as missing, and meets quorum iff 3 positions."""
    from toolpanel.models import CarriedTake

    asked, carried = [], []
    for pid, (where, status, score) in zip(PERSONA_IDS, panel):
        t = Take(take_id=f"tk_{pid}", tool_slug="x", snapshot_hash="h", persona_id=pid, persona_version="v",
                 model="m", prompt_hash="p", status=status, score=score if status == "ok" else None,
                 verdict=("ship" if score >= 60 else "skip") if status == "ok" else None,
                 created_at="2026-01-01T00:00:00")
        if where == "asked":
            asked.append(t)
        elif where == "carried":
            carried.append((t, CarriedTake(persona_id=pid, take_id=t.take_id, from_verdict_id="vd", from_run_id="run")))
    v = panel_verdict("x", asked, PERSONA_IDS, carried)
    counted = asked + [t for t, _ in carried]
    assert v.missing == [p for p, (where, _, _) in zip(PERSONA_IDS, panel) if where == "missing"]
    assert sorted(v.take_ids) == sorted(t.take_id for t in counted)
    assert v.quorum_met == (sum(1 for t in counted if t.status == "ok") >= 3)
    assert (shortfall(v) is None) == v.quorum_met
    if not v.quorum_met:
        assert ("abstained" in shortfall(v)) == any(t.status == "abstained" for t in counted)


def test_why_tells_carried_takes_from_asked_ones(fake_model, tmp_path):
    fake = fake_model
    project_toml(tmp_path)  # the fixture panel here and in the `toolpanel` subprocesses (cwd tmp_path)
    partial(force=False)
    fake.enqueue("skeptic", take(30, "skip"))
    partial(["skeptic", "founder"])
    r = cli("why", "smolvlm2-turbo", "--include-held", cwd=tmp_path)  # 3 ship / 2 skip: held as a split
    assert r.returncode == 0, r.stderr
    assert "left the panel" not in r.stdout  # carried personas are on the panel: their takes count
    assert r.stdout.count("same take (carried, not asked again)") == 3
    assert "Skeptic went ship → skip (60 → 30)" in r.stdout
    data = __import__("json").loads(cli("why", "smolvlm2-turbo", "--include-held", "--json", cwd=tmp_path).stdout)
    assert {d["persona_id"] for d in data["takes"] if d["carried"]} == {"builder", "futurist", "creator"}
