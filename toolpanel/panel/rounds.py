"""The panel's optional second round (`[panel] rounds = 2`, issue 27; docs/panel.md): who is asked again,
what each one is shown, and which take counts. Pure (no I/O); the review (toolpanel.panel.review) and the
eval (toolpanel.eval.run) ask the model.

The rules:
- Round two happens only when round one has a quorum (without one it cannot make one: nobody who was not
  ok in round one is asked again, and a second call can only fail).
- Asked again: every persona whose round-one take is ok. One that abstained keeps its abstention (its lens
  rule said the tool is outside its lens; the others' opinions do not change that) and one that failed
  keeps its failed take: both are their final word, and nothing is paid for them.
- Shown: the persona's own round-one take, then every OTHER persona's ok or abstained take (failed ones
  are no answer and are left out), one letter each (Reviewer A, B, …), in a shuffled order. A partial
  re-review shows the carried personas' current takes as theirs.
- The shuffle is seeded by the round-one take ids shown (and the persona): a new round one gets a new order,
  and the same round-one takes give the same prompt, which is what lets the take cache serve it. The order
  is recorded in the take (`seen_take_ids`: own first, then A, B, …).
- Anonymised: the others' persona names in their paragraphs become their letter (`anonymised`).
- The verdict counts the final round: a persona's round-two take when it was asked (a failed round-two
  take counts as failed; it is not replaced by its round-one take), else its round-one take.
"""

from __future__ import annotations

import hashlib
import random
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass

from toolpanel.models import Persona, Take

SHOWN = ("ok", "abstained")
LETTERS = string.ascii_uppercase


@dataclass(frozen=True)
class Followup:
    """What one persona's round-two prompt shows: its own round-one take, then the others as A, B, …"""

    own: Take
    others: tuple[Take, ...]

    @property
    def persona_id(self) -> str:
        return self.own.persona_id

    @property
    def seen_take_ids(self) -> list[str]:
        return [self.own.take_id, *(t.take_id for t in self.others)]

    @property
    def letters(self) -> dict[str, str]:
        """persona id -> the letter it was shown as."""
        return {t.persona_id: LETTERS[i] for i, t in enumerate(self.others)}


def plan(first: Sequence[Take], shown: Sequence[Take] | None = None) -> dict[str, Followup]:
    """persona id -> its round-two inputs, for each persona of `first` (this run's round-one takes) that is asked
    again. `shown`: every take the others may see (default `first`; a partial re-review adds the carried ones)."""
    pool = sorted((t for t in (first if shown is None else shown) if t.status in SHOWN), key=lambda t: t.take_id)
    seed = hashlib.sha256("|".join(t.take_id for t in pool).encode()).hexdigest()
    out = {}
    for own in first:
        if own.status != "ok":
            continue
        others = [t for t in pool if t.persona_id != own.persona_id]
        random.Random(f"{seed}:{own.persona_id}").shuffle(others)
        out[own.persona_id] = Followup(own, tuple(others[:len(LETTERS)]))
    return out


def final(first: Sequence[Take], second: dict[str, Take]) -> list[Take]:
    """The takes a verdict counts: each persona's round-two take when it was asked, else its round-one take."""
    return [second.get(t.persona_id, t) for t in first]


def _view(take: Take, paragraph: str | None) -> dict:
    return {"status": take.status, "verdict": take.verdict, "score": take.score, "paragraph": paragraph or ""}


def anonymised(f: Followup, personas: Sequence[Persona]) -> tuple[dict, list[dict]]:
    """The template's view of a followup: (own, others), each {status, verdict, score, paragraph}; the others
    with their letter. In their paragraphs a persona's name as a name ("the Skeptic", capitalised) and any
    "as the skeptic" become the letter ("another reviewer" for the reader itself); "the founder of" stays."""
    names = {p.id: p.name for p in personas}
    letters = f.letters
    labels = {**{pid: f"Reviewer {letter}" for pid, letter in letters.items()}, f.persona_id: "another reviewer"}
    rules = []
    for pid, label in labels.items():
        name = names.get(pid, pid.capitalize())
        rules.append((re.compile(rf"\b(as) the (?:{re.escape(name)}|{re.escape(pid)})\b", re.I),
                      lambda m, label=label: f"{m.group(1)} {label}"))
        rules.append((re.compile(rf"\b(?:[Tt]he )?{re.escape(name)}\b"), label))

    def scrub(text: str | None) -> str:
        text = text or ""
        for rx, label in rules:
            text = rx.sub(label, text)
        return text

    return _view(f.own, f.own.paragraph), [_view(t, scrub(t.paragraph)) | {"letter": letters[t.persona_id]}
                                           for t in f.others]
