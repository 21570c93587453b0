"""The chair's contracts (issue 27; toolpanel/panel/chair.py): the panel summary of one verdict, the answer of
a comparison page to "Which one should you ship with?", and the records stored for each call (ok or failed).

Reviewers are cited by letter in the chair's reply and by persona id (and, in a pair's answer, tool slug)
once the code has checked and mapped them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Stance = Literal["ship", "skip", "abstained"]


class Cite(BaseModel):
    """A reviewer a point rests on, and the stance the point says it took: by letter in the chair's reply,
    by persona id once checked and stored."""
    reviewer: str
    stance: Stance
    tool: str | None = None  # the tool's slug, in a comparison's answer (its reviewers are of two tools)


class SummaryPoint(BaseModel):
    text: str
    reviewers: list[Cite] = Field(min_length=1)  # every point cites the takes that say it
    quotes: list[str] = Field(default_factory=list)  # verbatim from the cited takes or the card


class Disagreement(BaseModel):
    about: str
    sides: list[SummaryPoint] = Field(min_length=2)


class PanelSummary(BaseModel):
    """Agreements, disagreements (who, about what), blind spots (what nobody covered), and the answer: who
    should ship with the tool (what comparison pages show)."""
    agreements: list[SummaryPoint]
    disagreements: list[Disagreement]
    blind_spots: list[str]
    answer: SummaryPoint


class SummaryRecord(BaseModel):
    """One chair call, stored with its verdict (panel_summaries): ok with the checked summary, or failed and why."""
    status: Literal["ok", "failed"]
    summary: PanelSummary | None = None
    error: str | None = None
    model: str
    letters: dict[str, str] = Field(default_factory=dict)  # letter -> persona id, as the chair was shown them
    raw: str | None = None  # the chair's reply as given
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost_usd: float | None = None


class PairAnswer(BaseModel):
    """A comparison page's answer: which one to ship with (as the chair was asked: the first tool, the second,
    neither, or too close to call), why, and when to choose the other instead."""
    pick: Literal["first", "second", "neither", "too close"]
    answer: SummaryPoint
    instead: SummaryPoint | None = None


class PairRecord(BaseModel):
    """One chair call for a comparison (pair_answers), keyed by the two verdicts it read: ok or failed and why."""
    status: Literal["ok", "failed"]
    call_id: str | None = None  # its row's id, once stored
    slugs: tuple[str, str]  # the first and second tool, as the chair was shown them
    verdicts: tuple[str, str]  # their verdict ids
    answer: PairAnswer | None = None
    error: str | None = None
    model: str
    letters: dict[str, str] = Field(default_factory=dict)  # letter -> "slug/persona id"
    raw: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost_usd: float | None = None

    @property
    def picked(self) -> str | None:
        """The slug the answer picks; None for neither or too close."""
        if self.answer is None or self.answer.pick not in ("first", "second"):
            return None
        return self.slugs[0 if self.answer.pick == "first" else 1]
