"""Take flags, named once: the value stored on a take and the label every reader sees."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Flag(StrEnum):
    # The first reply's verdict contradicted its score; the repair call fixed it.
    CONTRADICTION_REPAIRED = "contradiction_repaired"
    # At least one evidence quote is not in the card the panel read.
    UNGROUNDED = "ungrounded"
    # The first reply was unusable for another reason; the repair call fixed it.
    REPAIRED = "repaired"
    # Legacy: takes written under the old flag band (ship < 50, skip >= 70); never produced any more.
    VERDICT_CONTRADICTS_SCORE = "verdict_contradicts_score"


LABELS: dict[str, str] = {
    Flag.CONTRADICTION_REPAIRED: "verdict contradicted score, repaired",
    Flag.UNGROUNDED: "quote not in the card",
    Flag.REPAIRED: "repaired",
    Flag.VERDICT_CONTRADICTS_SCORE: "verdict contradicts score",
}

TITLES: dict[str, str] = {
    Flag.CONTRADICTION_REPAIRED: "The first reply's verdict contradicted its own score; one repair call fixed it",
    Flag.UNGROUNDED: "At least one quote this take rests on does not appear in the tool's card",
    Flag.REPAIRED: "The first reply was not a valid take; one repair call fixed it",
    Flag.VERDICT_CONTRADICTS_SCORE: "Written before verdicts had to match scores: the verdict contradicts the score",
}


def label(flag: str) -> str:
    return LABELS.get(flag, flag.replace("_", " "))


def title(flag: str) -> str:
    return TITLES.get(flag, label(flag))


def shown(flags: Iterable[str]) -> list[str]:
    """The flags a reader sees next to a take, in a stable order."""
    order = [str(f) for f in Flag]
    return sorted(set(flags), key=lambda f: (order.index(f) if f in order else len(order), f))


def labels(flags: Iterable[str]) -> list[str]:
    return [label(f) for f in shown(flags)]
