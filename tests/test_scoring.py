"""Panel rules (scoring/rules.py): pure functions from takes to verdicts and comparisons."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from scoring.rules import QUORUM, SHIP_THRESHOLD, compare, verdict
from toolpanel.models import Take

ROOT = Path(__file__).resolve().parent.parent
PIDS = ["builder", "skeptic", "futurist", "founder", "creator"]
T0 = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.timezone.utc)


def take(persona: str, score: int | None = None, verdict_: str | None = None, *, status: str | None = None,
         slug: str = "tool") -> Take:
    """A take; with no score it abstains unless status says otherwise."""
    if status is None:
        status = "ok" if score is not None else "abstained"
    if verdict_ is None and status == "ok":
        verdict_ = "ship" if score >= SHIP_THRESHOLD else "skip"
    return Take(
        take_id=f"{slug}-{persona}", tool_slug=slug, snapshot_hash="s" * 16, persona_id=persona,
        persona_version="v" * 12, model="fake-model-1", prompt_hash="p" * 16, status=status,
        score=score if status == "ok" else None, verdict=verdict_ if status == "ok" else None,
        paragraph="A paragraph." if status != "failed" else None, created_at=T0,
    )


def panel(slug: str, **by_persona) -> list[Take]:
    """panel("x", builder=(80, "ship"), creator=None, founder="failed")"""
    out = []
    for pid, spec in by_persona.items():
        if spec is None:
            out.append(take(pid, slug=slug))
        elif spec == "failed":
            out.append(take(pid, status="failed", slug=slug))
        else:
            out.append(take(pid, *spec, slug=slug))
    return out


# --------------------------------------------------------------------------- verdict


def test_constants():
    assert (QUORUM, SHIP_THRESHOLD) == (3, 60)


def test_seed_four_ship_creator_abstains():
    takes = panel("smolvlm2-turbo", builder=(88, "ship"), skeptic=(72, "ship"), futurist=(81, "ship"),
                  founder=(77, "ship"), creator=None)
    v = verdict("smolvlm2-turbo", takes)
    assert v.label == "Ship · 4 ship / 0 skip"
    assert v.verdict == "ship"
    assert v.ship_pct == 100.0
    assert v.ship_pct_label == "100%"
    assert (v.ship_count, v.skip_count, v.abstain_count, v.failed_count) == (4, 0, 1, 0)
    assert v.quorum_met is True
    assert v.mean_score == 79.5
    assert v.take_ids == sorted(t.take_id for t in takes)


def test_seed_three_ship_one_skip_founder_abstains():
    takes = panel("openrouter-model-fusion", builder=(78, "ship"), skeptic=(45, "skip"), futurist=(84, "ship"),
                  founder=None, creator=(70, "ship"))
    v = verdict("openrouter-model-fusion", takes)
    assert v.label == "Ship · 3 ship / 1 skip"
    assert v.ship_pct == 75.0
    assert v.ship_pct_label == "75%"
    assert v.abstain_count == 1


def test_abstained_and_failed_takes_do_not_count_toward_ship_pct():
    takes = panel("t", builder=(80, "ship"), skeptic=(30, "skip"), futurist=(75, "ship"),
                  founder=None, creator="failed")
    v = verdict("t", takes)
    assert v.ship_pct == pytest.approx(66.7)
    assert v.ship_pct_label == "67%"
    assert (v.abstain_count, v.failed_count) == (1, 1)
    assert v.mean_score == pytest.approx(61.7)  # (80+30+75)/3, the failed/abstained scores are not in it


def test_quorum_not_met_is_incomplete():
    takes = panel("t", builder=(90, "ship"), skeptic=(85, "ship"), futurist="failed", founder="failed",
                  creator="failed")
    v = verdict("t", takes)
    assert v.verdict == "incomplete"
    assert v.quorum_met is False
    assert v.label == "Incomplete · 2 ship / 0 skip"
    assert v.label.startswith("Incomplete")
    assert v.ship_pct == 100.0  # still reported, but it does not make a verdict
    assert v.failed_count == 3


def test_abstentions_do_not_make_a_quorum():
    takes = panel("t", builder=(90, "ship"), skeptic=(85, "ship"), futurist=None, founder=None, creator=None)
    assert verdict("t", takes).verdict == "incomplete"


def test_exactly_three_ok_takes_is_complete():
    takes = panel("t", builder=(90, "ship"), skeptic=(40, "skip"), futurist=(70, "ship"),
                  founder="failed", creator="failed")
    v = verdict("t", takes)
    assert v.quorum_met is True
    assert v.verdict == "ship"
    assert v.label == "Ship · 2 ship / 1 skip"


def test_no_takes_at_all():
    v = verdict("t", [])
    assert (v.verdict, v.ship_pct, v.mean_score, v.median_score, v.spread, v.split_panel) == (
        "incomplete", None, None, None, None, False)
    assert v.ship_pct_label == "—"
    assert v.label == "Incomplete · 0 ship / 0 skip"


def test_majority_skip():
    v = verdict("t", panel("t", builder=(30, "skip"), skeptic=(20, "skip"), futurist=(65, "ship")))
    assert v.verdict == "skip"
    assert v.label == "Skip · 1 ship / 2 skip"


def test_tie_with_mean_at_threshold_ships():
    # 2 ship / 2 skip, mean exactly 60 -> ship
    v = verdict("t", panel("t", builder=(80, "ship"), skeptic=(50, "skip"), futurist=(70, "ship"),
                           founder=(40, "skip")))
    assert v.mean_score == 60.0
    assert v.verdict == "ship"
    assert v.label == "Ship · 2 ship / 2 skip"


def test_tie_with_mean_below_threshold_skips():
    v = verdict("t", panel("t", builder=(70, "ship"), skeptic=(50, "skip"), futurist=(70, "ship"),
                           founder=(49, "skip")))
    assert v.mean_score == 59.8
    assert v.verdict == "skip"
    assert v.label == "Skip · 2 ship / 2 skip"


def test_mean_median_spread():
    v = verdict("t", panel("t", builder=(90, "ship"), skeptic=(41, "skip"), futurist=(75, "ship"),
                           founder=(62, "ship")))
    assert v.mean_score == 67.0
    assert v.median_score == 68.5
    assert v.spread == 49
    v = verdict("t", panel("t", builder=(81, "ship"), skeptic=(70, "ship"), futurist=(77, "ship")))
    assert (v.mean_score, v.median_score, v.spread) == (76.0, 77.0, 11)
    assert v.mean_score == round((81 + 70 + 77) / 3, 1)


def test_split_panel_by_minority_share():
    # 3 ship / 2 skip: minority 40% -> split, even with a narrow spread
    v = verdict("t", panel("t", builder=(70, "ship"), skeptic=(55, "skip"), futurist=(68, "ship"),
                           founder=(58, "skip"), creator=(72, "ship")))
    assert (v.spread, v.split_panel) == (17, True)


def test_not_split_when_minority_is_small_and_scores_close():
    # 4 ship / 1 skip: minority 20%, spread 39
    v = verdict("t", panel("t", builder=(90, "ship"), skeptic=(51, "skip"), futurist=(80, "ship"),
                           founder=(85, "ship"), creator=(88, "ship")))
    assert (v.spread, v.split_panel) == (39, False)


def test_split_panel_by_spread():
    # unanimous ship, but the scores are 40 apart
    v = verdict("t", panel("t", builder=(95, "ship"), skeptic=(55, "ship"), futurist=(80, "ship")))
    assert (v.spread, v.split_panel) == (40, True)


def test_unanimous_close_panel_is_not_split():
    v = verdict("t", panel("t", builder=(95, "ship"), skeptic=(56, "ship"), futurist=(80, "ship")))
    assert (v.spread, v.split_panel) == (39, False)


# --------------------------------------------------------------------------- compare


def cmp(a_takes, b_takes, names=("Alpha", "Beta")):
    va, vb = verdict(a_takes[0].tool_slug, a_takes), verdict(b_takes[0].tool_slug, b_takes)
    return compare(va, vb, a_takes, b_takes, PIDS, names)


def test_ship_pct_decides_first():
    a = panel("alpha", builder=(70, "ship"), skeptic=(70, "ship"), futurist=(70, "ship"), founder=(70, "ship"))
    b = panel("beta", builder=(95, "ship"), skeptic=(30, "skip"), futurist=(95, "ship"), founder=(95, "ship"))
    c = cmp(a, b)
    assert (c.pick, c.pick_slug) == ("a", "alpha")
    assert c.reason == "Alpha wins on panel ship %: 100% vs 75%."
    # and from the other side
    c = cmp(b, a, names=("Beta", "Alpha"))
    assert (c.pick, c.pick_slug) == ("b", "alpha")
    assert c.reason == "Alpha wins on panel ship %: 100% vs 75%."


def test_ship_pct_with_decimals_in_the_reason():
    a = panel("alpha", builder=(80, "ship"), skeptic=(40, "skip"), futurist=(80, "ship"))
    b = panel("beta", builder=(70, "ship"), skeptic=(70, "ship"), futurist=(70, "ship"))
    c = cmp(a, b)
    assert c.pick == "b"
    assert c.reason == "Beta wins on panel ship %: 100% vs 66.7%."


def test_equal_ship_pct_then_mean_score_decides():
    a = panel("alpha", builder=(80, "ship"), skeptic=(70, "ship"), futurist=(75, "ship"))
    b = panel("beta", builder=(90, "ship"), skeptic=(85, "ship"), futurist=(82, "ship"))
    c = cmp(a, b)
    assert (c.pick, c.pick_slug) == ("b", "beta")
    assert c.reason == "Equal panel ship % (100%); Beta wins on mean score: 85.7 vs 75."


def test_equal_ship_pct_and_mean_then_head_to_head_wins():
    a = panel("alpha", builder=(90, "ship"), skeptic=(70, "ship"), futurist=(71, "ship"))
    b = panel("beta", builder=(89, "ship"), skeptic=(72, "ship"), futurist=(70, "ship"))
    c = cmp(a, b)
    assert [r.winner for r in c.head_to_head] == ["a", "b", "a", "none", "none"]
    assert (c.pick, c.pick_slug) == ("a", "alpha")
    assert c.reason == "Equal ship % and mean score; Alpha wins more persona head-to-heads (2 to 1)."


def test_all_equal_is_a_tie():
    a = panel("alpha", builder=(80, "ship"), skeptic=(70, "ship"), futurist=(75, "ship"))
    b = panel("beta", builder=(80, "ship"), skeptic=(70, "ship"), futurist=(75, "ship"))
    c = cmp(a, b)
    assert (c.pick, c.pick_slug) == ("tie", None)
    assert [r.winner for r in c.head_to_head] == ["tie", "tie", "tie", "none", "none"]
    assert c.reason == "Too close to call: equal ship %, mean score and head-to-head wins."


def test_both_skip_is_neither_naming_the_closer_one():
    a = panel("alpha", builder=(30, "skip"), skeptic=(20, "skip"), futurist=(65, "ship"))
    b = panel("beta", builder=(40, "skip"), skeptic=(35, "skip"), futurist=(45, "skip"))
    c = cmp(a, b)
    assert (c.pick, c.pick_slug) == ("neither", None)
    assert c.reason == "The panel says skip on both. Alpha comes closer."


def test_both_skip_and_identical_names_no_one():
    a = panel("alpha", builder=(30, "skip"), skeptic=(20, "skip"), futurist=(40, "skip"))
    b = panel("beta", builder=(30, "skip"), skeptic=(20, "skip"), futurist=(40, "skip"))
    assert cmp(a, b).reason == "The panel says skip on both."


def test_one_incomplete_picks_the_complete_one():
    a = panel("alpha", builder=(90, "ship"), skeptic="failed", futurist="failed", founder="failed")
    b = panel("beta", builder=(70, "ship"), skeptic=(65, "ship"), futurist=(40, "skip"))
    c = cmp(a, b)
    assert (c.pick, c.pick_slug) == ("b", "beta")
    assert c.reason == "Only Beta has a complete panel verdict (Alpha is incomplete)."


def test_one_incomplete_and_the_complete_one_says_skip():
    a = panel("alpha", builder=(30, "skip"), skeptic=(20, "skip"), futurist=(40, "skip"))
    b = panel("beta", builder=(90, "ship"), skeptic="failed", futurist="failed")
    c = cmp(a, b)
    assert (c.pick, c.pick_slug) == ("neither", None)
    assert c.reason == "Beta has no complete panel verdict, and the panel says skip on Alpha."


def test_both_incomplete():
    a = panel("alpha", builder=(90, "ship"))
    b = panel("beta", builder=(90, "ship"), skeptic="failed")
    c = cmp(a, b)
    assert (c.pick, c.pick_slug) == ("neither", None)
    assert c.reason == "Neither tool has a complete panel verdict yet."


def test_names_default_to_slugs():
    a = panel("alpha", builder=(70, "ship"), skeptic=(70, "ship"), futurist=(70, "ship"))
    b = panel("beta", builder=(70, "ship"), skeptic=(30, "skip"), futurist=(70, "ship"))
    va, vb = verdict("alpha", a), verdict("beta", b)
    assert compare(va, vb, a, b, PIDS).reason == "alpha wins on panel ship %: 100% vs 66.7%."


def test_head_to_head_rows_per_persona():
    a = panel("alpha", builder=(80, "ship"), skeptic=(60, "ship"), futurist=(70, "ship"), founder=None,
              creator=(50, "skip"))
    b = panel("beta", builder=(70, "ship"), skeptic=(65, "ship"), futurist=(70, "ship"), founder=(90, "ship"),
              creator="failed")
    c = cmp(a, b)
    rows = {r.persona_id: r for r in c.head_to_head}
    assert [r.persona_id for r in c.head_to_head] == PIDS
    assert {pid: r.winner for pid, r in rows.items()} == {
        "builder": "a", "skeptic": "b", "futurist": "tie", "founder": "none", "creator": "none",
    }
    assert rows["founder"].a.status == "abstained" and rows["founder"].b.score == 90
    assert rows["creator"].b.status == "failed"


def test_head_to_head_when_a_persona_has_no_take_on_one_side():
    a = panel("alpha", builder=(80, "ship"), skeptic=(60, "ship"), futurist=(70, "ship"))
    b = panel("beta", builder=(70, "ship"), skeptic=(65, "ship"), futurist=(70, "ship"), founder=(90, "ship"))
    rows = {r.persona_id: r for r in cmp(a, b).head_to_head}
    assert rows["founder"].a is None and rows["founder"].winner == "none"
    assert rows["creator"].a is None and rows["creator"].b is None and rows["creator"].winner == "none"


# --------------------------------------------------------------------------- purity


def test_scoring_does_not_import_heavy_dependencies():
    code = "import scoring, sys; assert not {'prefect','openai','duckdb'} & set(sys.modules), sorted(sys.modules)"
    venv_python = ROOT / ".venv" / "bin" / "python"
    exe = str(venv_python) if venv_python.exists() else sys.executable
    proc = subprocess.run([exe, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
