"""The confidence band: how sure the panel is, in one word a reader understands (docs/panel.md).

Computed from the panel's agreement, not from what a model says of itself:
- voices: counted takes (positions, status ok); agreement: the share of them on the majority side;
- spread: highest minus lowest score of the counted takes;
- abstained, failed and missing personas are not voices: a verdict from fewer voices says so in its label.

The words, first that applies:
- Split: the `[hold] split` definition, `Verdict.split_panel` (scoring.rules: minority >= 40% of the
  positions, or scores spread 40+ points). Reused, never redefined here.
- Unanimous: every voice on one side, at least UNANIMOUS_VOICES voices, spread < UNANIMOUS_SPREAD.
- Clear: agreement >= CLEAR_AGREEMENT, at least CLEAR_VOICES voices (a quorum).
- Leaning: anything else (e.g. 2 ship / 1 skip, or fewer voices than a quorum).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from scoring.rules import QUORUM
from toolpanel.models import Take, Verdict

UNANIMOUS_VOICES = 4
UNANIMOUS_SPREAD = 25  # points: below this
CLEAR_AGREEMENT = 0.75
CLEAR_VOICES = QUORUM  # 3: as many voices as a complete verdict needs
BandWord = Literal["Unanimous", "Clear", "Leaning", "Split"]
WORDS: tuple[str, ...] = ("Unanimous", "Clear", "Leaning", "Split")


class Band(BaseModel):
    """A verdict's confidence band and the voices behind it."""

    model_config = ConfigDict(frozen=True)

    word: BandWord
    voices: int  # counted takes (ship + skip)
    panel: int  # personas the verdict was asked of: voices + abstained + failed + missing
    silent: list[str] = []  # persona ids that abstained, failed or had no take (when the takes are known)

    @property
    def fewer_voices(self) -> bool:
        return self.voices < self.panel

    @property
    def label(self) -> str:
        """'Clear', or 'Clear · 3 of 5 voices' when personas abstained, failed or were missing."""
        return f"{self.word} · {self.voices} of {self.panel} voices" if self.fewer_voices else self.word


def band(verdict: Verdict, takes: Sequence[Take] = ()) -> Band:
    """The band of `verdict`; `takes` (any superset of the verdict's takes) only name the silent personas."""
    counted = set(verdict.take_ids)
    silent = sorted({t.persona_id for t in takes if t.take_id in counted and t.status != "ok"} | set(verdict.missing))
    return of_counts(verdict.ship_count, verdict.skip_count,
                     verdict.abstain_count + verdict.failed_count + len(verdict.missing), verdict.spread,
                     verdict.split_panel, silent)


def of_counts(ships: int, skips: int, silent: int, spread: int | None, split_panel: bool,
              silent_ids: Sequence[str] = ()) -> Band:
    """The band from a verdict's stored counts (`silent`: abstained + failed + missing personas)."""
    voices = ships + skips
    agreement = max(ships, skips) / voices if voices else 0.0
    if split_panel:
        word = "Split"
    elif agreement == 1.0 and voices >= UNANIMOUS_VOICES and (spread or 0) < UNANIMOUS_SPREAD:
        word = "Unanimous"
    elif agreement >= CLEAR_AGREEMENT and voices >= CLEAR_VOICES:
        word = "Clear"
    else:
        word = "Leaning"
    return Band(word=word, voices=voices, panel=voices + silent, silent=list(silent_ids))


def stored_label(label: str | None, ships: int, skips: int, abstained: int, failed: int, spread: int | None,
                 split_panel: bool) -> str:
    """A stored verdict's band label; verdicts stored before the band (migration m017) get it from their counts."""
    return label or of_counts(ships, skips, abstained + failed, spread, split_panel).label


def row_label(row: Mapping | None) -> str | None:
    """The band label of a stored verdict row (a `verdicts` row, or a view row with its counts and `band_label`);
    None without a complete verdict: no row, a run with no verdict, or an incomplete verdict kept for an editor."""
    if not row or row.get("verdict") in (None, "incomplete"):
        return None
    return stored_label(row.get("band_label"), row["ship_count"], row["skip_count"], row["abstain_count"],
                        row["failed_count"], row["spread"], row["split_panel"])
