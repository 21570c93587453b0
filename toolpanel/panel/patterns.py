"""Pure text patterns the take contract uses: integer ranges as regexes, quotes checked against a card."""

from __future__ import annotations

import re


def int_range_pattern(lo: int, hi: int) -> str:
    """A regex for the integers lo..hi (0 <= lo <= hi <= 100) written without leading zeros."""
    alts: list[str] = []
    if hi == 100:
        alts.append("100")
        hi = 99
    decades: list[tuple[int, str]] = []  # (tens digit, units class)
    for tens in range(lo // 10, hi // 10 + 1) if lo <= hi else ():
        a, b = max(lo, tens * 10) % 10, min(hi, tens * 10 + 9) % 10
        decades.append((tens, "[0-9]" if (a, b) == (0, 9) else (str(a) if a == b else f"[{a}-{b}]")))
    full = [t for t, u in decades if u == "[0-9]" and t > 0]
    rest = [(t, u) for t, u in decades if not (u == "[0-9]" and t > 0)]
    if full and full == list(range(full[0], full[-1] + 1)):
        tens = str(full[0]) if len(full) == 1 else f"[{full[0]}-{full[-1]}]"
        if rest and rest[0] == (0, "[0-9]") and full[0] == 1:
            alts.append(f"{tens}?[0-9]")  # 0..N9 as one optional tens digit
            rest = rest[1:]
        else:
            alts.append(f"{tens}[0-9]")
    else:
        rest = decades
    alts += [(str(t) if t else "") + u for t, u in rest]
    return "^(" + "|".join(alts) + ")$"


# A JSON string's characters for a grammar: no quote, backslash or control character (llama-cpp-python's
# converter lets raw newlines through, which is not JSON), and no curly quotes or ellipsis, which a small
# model writes to "close" a string it never closed.
_GRAMMAR_UNSAFE = r'"\\\x00-\x1f'  # straight quote, backslash, control characters (a regex class body)
GRAMMAR_TEXT_CHARS = f"[^{_GRAMMAR_UNSAFE}“”…]"


def text_pattern(lo: int, hi: int, first: str = "[A-Za-z0-9]") -> str:
    """A regex for lo..hi grammar-safe characters that start with `first` (not a blank or punctuation)."""
    return f"^{first}{GRAMMAR_TEXT_CHARS}{{{max(lo - 1, 0)},{hi - 1}}}$"


_UNQUOTABLE = re.compile(f"[{_GRAMMAR_UNSAFE}]")


def quotable(texts: list[str], lo: int, hi: int, limit: int = 40) -> list[str]:
    """The sentences of a card's texts as quotes of lo..hi characters (a longer one cut at a word): what a
    grammar may let a model quote, so every quote it writes is on the card. At most `limit`, in order."""
    out: list[str] = []
    # a paragraph's wrapped lines are one text (the quote check ignores whitespace)
    paragraphs = [" ".join(p.split()) for t in texts if t for p in re.split(r"\n\s*\n", t)]
    for paragraph in paragraphs:
        for sentence in re.split(r"(?<=[.!?])\s+", paragraph):
            if len(sentence) > hi:  # at the last clause break that keeps half of it, else at a word
                head = sentence[:hi + 1].rsplit(" ", 1)[0]
                clause = max(head.rfind(", "), head.rfind("; "))
                sentence = head[:clause] if clause >= hi // 2 else head
            # no straight quote or backslash: llama-cpp-python writes them into the grammar unparseable,
            # and a grammar that does not parse takes its server down
            if lo <= len(sentence) <= hi and sentence not in out and not _UNQUOTABLE.search(sentence):
                out.append(sentence)
    return out[:limit]


_QUOTE_MARKS = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "`": "'", "\u00b4": "'",
                              "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u00ab": '"',
                              "\u00bb": '"'})


def normalise(text: str) -> str:
    """Whitespace, case and quote marks do not count when a quote is checked against the card."""
    return " ".join(text.translate(_QUOTE_MARKS).casefold().split())


def unsupported_quotes(evidence: list[str], card_text: str) -> list[str]:
    """The quotes that do not occur in the card text (after normalising both)."""
    card = normalise(card_text)
    # Quote marks, an ellipsis or punctuation around a quote are the model's framing, not part of it;
    # what is left must hold some text ("…" or "," alone quotes nothing).
    needles = [(q, normalise(q).strip("'\" .…,;:")) for q in evidence]
    return [q for q, n in needles if sum(c.isalnum() for c in n) < 3 or n not in card]
