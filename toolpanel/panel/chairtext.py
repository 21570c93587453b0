"""What a chair's text may hold (toolpanel/panel/chair.py: `Grounds` and `check` use these): the reviewers it
names, what it claims of the whole panel, its size, and the characters it is written in. Pure functions.

- **Names.** "Reviewer X" in any case, spacing or width ("reviewer  f", "REVIEWER Ｇ", "Reviewer (F)"), lists
  ("Reviewers A, D and G"), and a persona's name or id after "reviewer" ("Reviewer Founder") are all mentions;
  the caller maps each to a take or rejects the text.
- **Claims about the whole panel** ("every reviewer says ship", "the panel is unanimous", "no reviewer would skip
  it") must be true of the takes: every take with a position on that side (or, for abstaining, none with one).
- **Size**: the prompt asks for at most three points of each kind, two quotes a point and texts under 200
  characters; twice that is allowed, more is a flood.
- **The vendor's words**: the chair's own text runs no ten words of the card (a quote is where the card's words
  go, and each is checked); and no text or quote repeats five words (or all) of a span screening flags in a field
  of the card (chair.check screens the card's fields as vendor text is screened).
- **Prose**: no role token ("[SYSTEM]") or take field set to a value ("verdict=ship") in a text; vendor echoes
  are also matched with digits read as letters ("pr3-4ppr0ved").
- **Characters**: a text read as its reader reads it (NFKC: full-width letters, no-break spaces) must hold a word
  and no invisible character (zero-width, bidi controls, tag characters), which would hide text from readers.
"""

from __future__ import annotations

import re
import unicodedata

MAX_POINTS = 6  # agreements, disagreements or blind spots: the prompt asks for at most three
MAX_QUOTES = 4  # quotes of one point: the prompt asks for at most two
MAX_CHARS = 400  # a text or a quote: the prompt asks for under 200 characters
COPIED_WORDS = 10  # a text of the chair's own that runs this many words of the card copies it (quotes are for that)

_SEP = r"(?:\s*,\s*(?:and\s+|or\s+|&\s*)?|\s+(?:and|or)\s+|\s*[&/+]\s*)"


def readable(value: str) -> str:
    """The text as a reader reads it: NFKC (full-width letters, no-break spaces) and whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", value).split())


def invisible(value: str) -> str | None:
    """The first character a reader does not see (format and control characters, variation selectors)."""
    for ch in value:
        cp = ord(ch)
        if (unicodedata.category(ch) in ("Cf", "Cc", "Co", "Cs") and ch not in "\n\t") \
                or 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF or ch in "\u115f\u1160\u3164\uffa0\u2800":
            return f"U+{cp:04X}"
    return None


def wordless(value: str) -> bool:
    return not any(ch.isalnum() for ch in value)


_LEET = str.maketrans("013457@$", "oieastas")
# Not prose: a role token in brackets ("[SYSTEM]", "<assistant>"), a take field set to a value ("verdict=ship") or
# written as a JSON key ('"score": 100').
_MACHINE = re.compile(r"[\[<]\s*/?\s*(?:system|assistant|user|developer|human|inst|sys)\s*[\]>]"
                      r"|\b(?:verdict|stance|decision|score|rating)\s*=\s*\S"
                      r"|[\"'](?:verdict|stance|decision|score|rating)[\"']\s*:", re.I)


def leet(text: str) -> str:
    """Digits and symbols read as the letters they stand in for, in every word ("pr3-4ppr0ved"): for matching
    phrases that hold no digit."""
    return text.casefold().translate(_LEET)


def machine(text: str) -> str | None:
    """A piece of `text` addressed to a model rather than to a reader (a role token, a take field's value)."""
    m = _MACHINE.search(text)
    return m.group(0) if m else None


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", unicodedata.normalize("NFKC", text).casefold())


def fields(card: str, labels: dict[str, str]) -> list[tuple[str, str]]:
    """(field, text) of a card as Tool.card_text writes it ("Label: value" lines, the description last and on
    as many lines as it has); a text in another shape is one description."""
    by_label = {label: field for field, label in labels.items()}
    out: list[tuple[str, str]] = []
    for line in card.splitlines():
        label, sep, rest = line.partition(": ")
        if sep and label in by_label and not (out and out[-1][0] == "description"):
            out.append((by_label[label], rest))
        elif out:
            out[-1] = (out[-1][0], f"{out[-1][1]}\n{line}")
        else:
            out.append(("description", line))
    return out


def repeats(value: str, span: str, n: int = 5) -> bool:
    """Does `value` repeat `span` (a flagged piece of the card): all of it (8 characters or more: an encoded run,
    a sentence without spaces), or a run of `n` of its words (all of a shorter span of two words or more)?"""
    fold = lambda t: " ".join(unicodedata.normalize("NFKC", t).casefold().split())  # noqa: E731
    if len(fold(span)) >= 8 and fold(span) in fold(value):
        return True
    words = _words(span)
    return len(words) >= 2 and copied(value, span, min(n, len(words))) is not None


def copied(text: str, source: str, n: int = COPIED_WORDS) -> str | None:
    """A run of `n` words of `text` that is also a run of `source` (case, punctuation and spacing aside)."""
    words = _words(text)
    if len(words) < n:
        return None
    runs = {tuple(w[i:i + n]) for w in [_words(source)] for i in range(len(w) - n + 1)}
    return next((" ".join(words[i:i + n]) for i in range(len(words) - n + 1) if tuple(words[i:i + n]) in runs), None)


class Mentions:
    """Reviewers named in a text: letters (either case; lowercase 'a' and 'i' are words) and persona names or ids
    after "reviewer(s)", alone or in a list."""

    def __init__(self, personas: list[str]):
        words = "|".join(sorted({re.escape(p) for p in personas if p}, key=len, reverse=True))
        self.token = re.compile(rf"(?<!\w)(?:[A-Z]|[b-hj-z]|(?i:{words}))(?!\w)" if words
                                else r"(?<!\w)(?:[A-Z]|[b-hj-z])(?!\w)")
        one = self.token.pattern
        self.pattern = re.compile(rf"\b(?i:reviewers?)\b[\s:\-]*\(?\s*(?P<list>{one}(?:{_SEP}{one})*)(?:\s*\))?")

    def find(self, text: str) -> list[tuple[re.Match, list[re.Match]]]:
        return [(m, list(self.token.finditer(m.group("list")))) for m in self.pattern.finditer(text)]

    def rewrite(self, text: str, name) -> str:
        """Each mention's names by `name(token)`, "Reviewer" dropped: "Reviewers A and D" -> "Builder and Creator"."""
        return self.pattern.sub(lambda m: self.token.sub(lambda t: name(t.group(0)), m.group("list")), text)


# Claims about the whole panel: a quantifier over its reviewers with a stance word ("every reviewer … ship"),
# or "no reviewer" with the other side's ("no reviewer would skip it" claims ship). "Not every …" claims nothing.
_WHO = r"(?:reviewers?|personas?|members?|panelists?)"
_ALL = re.compile(rf"(?<!not )\b(?:(?:every|each|both) {_WHO}|all(?: \w+)?(?: of the)? {_WHO}|(?:whole|entire|full) "
                  rf"panel|panel as a whole|unanimous(?:ly)?|everyone on the panel)\b", re.I)
_NONE = re.compile(rf"\b(?:(?:no|none of the|not one|not a single) {_WHO}|(?:nobody|no one) on the panel)\b", re.I)
_SIDE = {"ship": re.compile(r"\b(?:ship|shipping|recommends?|recommended|recommending)\b", re.I),
         "skip": re.compile(r"\b(?:skip|skips|skipping)\b", re.I),
         "abstained": re.compile(r"\b(?:abstain(?:s|ed|ing)?|no position|no panel take|(?:declined?|refused?) to "
                                 r"take a (?:position|stance|side))\b", re.I)}
_POSITION = re.compile(r"\b(?:take|takes|took|taking) a (?:position|stance|side)\b", re.I)


def claimed(sentence: str) -> set[str]:
    """The stances a sentence says the whole panel took."""
    out = set()
    if _ALL.search(sentence):
        out |= {s for s, rx in _SIDE.items() if rx.search(sentence)}
    if _NONE.search(sentence):
        out |= {"ship"} if _SIDE["skip"].search(sentence) else set()
        out |= {"skip"} if _SIDE["ship"].search(sentence) else set()
        out |= {"abstained"} if _POSITION.search(sentence) else set()
    return out


def false_claim(text: str, stances: list[str]) -> str | None:
    """The first sentence claiming a panel-wide stance the takes do not bear out (`stances`: one per take shown)."""
    positions = [s for s in stances if s in ("ship", "skip")]
    for sentence in re.split(r"(?<=[.!?;])\s+", text):
        for side in claimed(sentence):
            true = not positions if side == "abstained" else bool(positions) and all(p == side for p in positions)
            if not true:
                return sentence
    return None
