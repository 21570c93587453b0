"""Issue 27: the confidence band (scoring/band.py) — one word per verdict, Split exactly when the `[hold] split`
definition says so, fewer voices said, thresholds as documented in docs/panel.md."""

from __future__ import annotations

import datetime as dt
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import band as bands
from scoring.band import WORDS, band, stored_label
from scoring.rules import panel_verdict, verdict
from tests.helpers import ROOT
from toolpanel.models import CarriedTake, Take

AT = dt.datetime(2026, 1, 1)


def take(i: int, status: str, score: int | None = None, side: str | None = None, persona: str | None = None) -> Take:
    ok = status == "ok"
    return Take(take_id=f"tk{i}", tool_slug="t", snapshot_hash="s", persona_id=persona or f"p{i}", persona_version="v",
                model="m", prompt_hash="h", status=status, score=score if ok else None, verdict=side if ok else None,
                created_at=AT)


takes_st = st.lists(st.tuples(st.sampled_from(["ok", "ok", "ok", "abstained", "failed"]), st.integers(0, 100),
                              st.sampled_from(["ship", "skip"])), min_size=1, max_size=8).map(
    lambda rows: [take(i, status, score, side) for i, (status, score, side) in enumerate(rows)])


@settings(max_examples=400, deadline=None)
@given(takes_st)
def test_every_verdict_gets_exactly_one_band_word(takes):
    v = verdict("t", takes)
    b = band(v, takes)
    assert b.word in WORDS and b.label.split(" · ")[0] == b.word
    assert (b.word == "Split") == v.split_panel  # the [hold] split definition, reused
    voices = sum(t.status == "ok" for t in takes)
    silent = [t.persona_id for t in takes if t.status != "ok"]
    assert (b.voices, b.panel, b.silent) == (voices, len(takes), sorted(silent))
    # fewer voices (abstained or failed personas) are said, and only then
    assert (f"{voices} of {len(takes)} voices" in b.label) == bool(silent)
    ships = sum(t.status == "ok" and t.verdict == "ship" for t in takes)
    agreement = max(ships, voices - ships) / voices if voices else 0
    scores = [t.score for t in takes if t.status == "ok"]
    spread = max(scores) - min(scores) if scores else 0
    if b.word == "Unanimous":
        assert agreement == 1 and voices >= bands.UNANIMOUS_VOICES and spread < bands.UNANIMOUS_SPREAD
    if b.word == "Clear":
        assert agreement >= bands.CLEAR_AGREEMENT and voices >= bands.CLEAR_VOICES
    if b.word == "Leaning":
        assert not (agreement >= bands.CLEAR_AGREEMENT and voices >= bands.CLEAR_VOICES)
    # what a reader of a stored verdict gets when it predates the stored band: the same label
    assert stored_label(None, v.ship_count, v.skip_count, v.abstain_count, v.failed_count, v.spread,
                        v.split_panel) == b.label


@settings(max_examples=200, deadline=None)
@given(takes_st, st.integers(0, 3))
def test_a_partial_re_review_gets_its_band_from_the_combined_verdict(takes, missing):
    """Carried takes count as voices; personas with no take to carry are silent ("missing")."""
    half = len(takes) // 2
    asked, carried = takes[:half], takes[half:]
    panel = [t.persona_id for t in takes] + [f"gone{i}" for i in range(missing)]
    v = panel_verdict("t", asked, panel, [(t, CarriedTake(persona_id=t.persona_id, take_id=t.take_id,
                                                          from_verdict_id="vd", from_run_id="run")) for t in carried])
    b = band(v, takes)
    assert b.panel == len(panel) and b.voices == sum(t.status == "ok" for t in takes)
    assert set(b.silent) >= {f"gone{i}" for i in range(missing)}
    assert b == band(verdict("t", takes).model_copy(update={"missing": v.missing}), takes)


def panel(*rows) -> list[Take]:
    return [take(i, *row) for i, row in enumerate(rows)]


def test_the_documented_examples():
    ship, skip = ("ok", 80, "ship"), ("ok", 30, "skip")
    examples = {
        "Unanimous": panel(("ok", 80, "ship"), ("ok", 75, "ship"), ("ok", 90, "ship"), ("ok", 70, "ship"), ship),
        "Clear": panel(ship, ship, ship, ship, ("ok", 55, "skip")),                  # 4 to 1
        "Clear · 3 of 5 voices": panel(ship, ship, ship, ("abstained",), ("failed",)),  # too few for Unanimous
        "Leaning": panel(ship, ship, ("ok", 50, "skip")),                          # 2 to 1: 67%
        "Split": panel(ship, ship, ship, skip, skip),                              # minority 40%
        "Split · 4 of 5 voices": panel(("ok", 100, "ship"), ("ok", 60, "ship"), ship, ship, ("abstained",)),  # spread 40
        "Clear · 4 of 5 voices": panel(("ok", 95, "ship"), ("ok", 65, "ship"), ship, ship, ("failed",)),  # spread 30
    }
    for label, takes in examples.items():
        assert band(verdict("t", takes), takes).label == label, label


def test_docs_state_the_thresholds_the_code_uses():
    doc = (ROOT / "docs" / "panel.md").read_text()
    table = doc[doc.index("| Band |"):]
    assert re.search(rf"\| \*\*Unanimous\*\* \|.*at least {bands.UNANIMOUS_VOICES} voices.*under "
                     rf"{bands.UNANIMOUS_SPREAD} points", table)
    assert re.search(rf"\| \*\*Clear\*\* \|.*{round(bands.CLEAR_AGREEMENT * 100)}%.*at least {bands.CLEAR_VOICES} "
                     "voices", table)
    assert "split_panel" in table and "| **Leaning** |" in table
