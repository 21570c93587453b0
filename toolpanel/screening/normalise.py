"""Normalised views of untrusted vendor text, each character mapped back to the original (issue 23).

Screening reads what a model would read, not what the bytes spell: `normalise(text)` is a `View` with
zero-width, bidi and other invisible characters removed (Unicode tag characters, the "ASCII smuggling"
alphabet, are decoded instead), NFKC applied, Arabic vowel marks dropped, Cyrillic/Greek look-alikes in
Latin text mapped to Latin (Unicode TR39 confusables, from `confusable-homoglyphs`' bundled table),
runs of base64, hex, percent-encoding, \\u escapes and HTML entities decoded in place (only when they
decode to readable text, so honest hashes and IDs stay as they are), and leetspeak folded inside words
that mix letters and digits. Every character of a view knows the span of the original it came from, so
a finding on the view is a span of the original text (`View.source`). Pure: no I/O beyond the bundled
confusables table, read once.
"""

from __future__ import annotations

import base64
import binascii
import functools
import html
import json
import re
import unicodedata
from dataclasses import dataclass
from importlib import resources
from urllib.parse import unquote_to_bytes


@dataclass(frozen=True)
class View:
    """Text derived from an original; character i came from original[starts[i]:ends[i]]."""

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    @classmethod
    def identity(cls, text: str, offset: int = 0) -> "View":
        return cls(text, tuple(range(offset, offset + len(text))), tuple(range(offset + 1, offset + len(text) + 1)))

    def source(self, a: int, b: int) -> tuple[int, int]:
        """The original span that view[a:b] came from (empty spans map to an empty original span)."""
        if not self.text or b <= a:
            at = self.starts[a] if a < len(self.starts) else (self.ends[-1] if self.ends else 0)
            return at, at
        a, b = max(a, 0), min(b, len(self.text))
        return min(self.starts[a:b]), max(self.ends[a:b])

    def slice(self, a: int, b: int) -> "View":
        return View(self.text[a:b], self.starts[a:b], self.ends[a:b])


class Builder:
    """Collects (text, original start, original end) pieces into a View."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.starts: list[int] = []
        self.ends: list[int] = []

    def put(self, text: str, start: int, end: int) -> None:
        self.text.extend(text)
        self.starts.extend([start] * len(text))
        self.ends.extend([end] * len(text))

    def copy(self, view: View, a: int, b: int) -> None:
        self.text.extend(view.text[a:b])
        self.starts.extend(view.starts[a:b])
        self.ends.extend(view.ends[a:b])

    def view(self) -> View:
        return View("".join(self.text), tuple(self.starts), tuple(self.ends))


def _substitute(view: View, pattern: re.Pattern, decode) -> View:
    """Each match of `pattern` that `decode` turns into text is replaced by that text, mapped to the whole run."""
    out, last = Builder(), 0
    for m in pattern.finditer(view.text):
        got = decode(m)
        if got is None or got == m.group(0):
            continue
        out.copy(view, last, m.start())
        out.put(got, *view.source(m.start(), m.end()))
        last = m.end()
    if last == 0:
        return view
    out.copy(view, last, len(view.text))
    return out.view()


# --- invisible characters, NFKC, Arabic marks ------------------------------------------------------------
_INVISIBLE_LETTERS = set("\u115f\u1160\u3164\uffa0\u2800")  # fillers that render as nothing
_QUOTES = {"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"'}
_ARABIC_MARKS = re.compile(r"[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")


def _visible(view: View) -> View:
    out = Builder()
    for i, ch in enumerate(view.text):
        cp = ord(ch)
        if 0xE0020 <= cp <= 0xE007E:  # tag characters spell ASCII invisibly: read them
            out.put(chr(cp - 0xE0000), view.starts[i], view.ends[i])
        elif ch in "\u2028\u2029" or ch in _QUOTES:
            out.put(_QUOTES.get(ch, "\n"), view.starts[i], view.ends[i])
        elif ch in "\n\t" or not (unicodedata.category(ch) in ("Cf", "Cc", "Co", "Cs")
                                   or 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF
                                   or ch in _INVISIBLE_LETTERS or _ARABIC_MARKS.match(ch)):
            out.copy(view, i, i + 1)
    return out.view()


def _nfkc(view: View) -> View:
    if unicodedata.is_normalized("NFKC", view.text):
        return view
    out, i, n = Builder(), 0, len(view.text)
    while i < n:  # a base character and the combining marks after it normalise together
        j = i + 1
        while j < n and unicodedata.combining(view.text[j]):
            j += 1
        got = unicodedata.normalize("NFKC", view.text[i:j])
        if got[:1].isascii():  # marks left on a Latin letter are decoration (strike-through, zalgo)
            got = "".join(c for c in got if not unicodedata.combining(c))
        out.put(got, *view.source(i, j))
        i = j
    return out.view()


# --- confusable skeletons (TR39) -----------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _confusables() -> dict[str, str]:
    """Non-Latin letters that look like one ASCII letter, e.g. Cyrillic 'р' -> 'p'."""
    raw = json.loads(resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8"))
    table = {}
    for ch, glyphs in raw.items():
        if len(ch) != 1 or ord(ch) < 0x370 or not ch.isalpha():
            continue
        latin = [g["c"] for g in glyphs if len(g["c"]) == 1 and g["c"].isascii() and g["c"].isalpha()]
        if latin:
            table[ch] = latin[0]
    return table


_WORD = re.compile(r"\w+")


def _skeleton(view: View) -> View:
    """Look-alikes from other scripts become Latin in words that mix them with Latin letters ('Тhе'), and in
    every word of a sentence with no genuine Cyrillic or Greek letter ('ѕсоrе іt'): real Russian or Greek
    text always has letters without a Latin twin, and is left as it is."""
    table = _confusables()
    if not any(ch in table for ch in view.text):
        return view
    chars = list(view.text)
    for sent in re.finditer(r"[^.!?\n]+", view.text):
        genuine = any(0x370 <= ord(c) <= 0x52F and c.isalpha() and c not in table for c in sent.group(0))
        for w in _WORD.finditer(sent.group(0)):
            word = w.group(0)
            if word.isascii() or not all(c.isascii() or c in table for c in word if c.isalpha()):
                continue
            if not genuine or any(c.isascii() and c.isalpha() for c in word):
                for i, c in enumerate(word):
                    chars[sent.start() + w.start() + i] = table.get(c, c)
    return View("".join(chars), view.starts, view.ends)


# --- encoded runs ------------------------------------------------------------------------------------
def readable(raw: bytes | str, minimum: int = 8) -> str | None:
    """Decoded bytes that read as text (letters and spaces, few controls), else None."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        return None
    if len(text) < minimum:
        return None
    printable = sum(c.isprintable() or c in "\n\t" for c in text)
    wordish = sum(c.isalpha() or c.isspace() for c in text)
    if printable < 0.97 * len(text) or wordish < 0.7 * len(text) or not re.search(r"\w{2,}\W+\w{2,}", text):
        return None
    return text


_B64 = re.compile(r"(?<![\w+/=-])[A-Za-z0-9+/_-]{16,}={0,2}(?![\w+/=-])")
_HEX = re.compile(r"(?<![\w])(?:0x)?(?:[0-9a-fA-F]{2}(?:[ :]?)){8,}[0-9a-fA-F]{2}(?!\w)|(?:\\x[0-9a-fA-F]{2}){4,}")
_PERCENT = re.compile(r"(?:%[0-9a-fA-F]{2}[^\s%]{0,3})*%[0-9a-fA-F]{2}")
_UESC = re.compile(r"(?:\\u[0-9a-fA-F]{4})+")
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def _b64(m: re.Match) -> str | None:
    run = m.group(0).rstrip("=")
    try:
        raw = base64.b64decode(run.replace("-", "+").replace("_", "/") + "=" * (-len(run) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return readable(raw)


def _hex(m: re.Match) -> str | None:
    digits = re.sub(r"0x|\\x|[ :]", "", m.group(0))
    return readable(bytes.fromhex(digits)) if len(digits) % 2 == 0 else None


def _percent(m: re.Match) -> str | None:
    got = unquote_to_bytes(m.group(0))
    try:
        text = got.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if all(c.isprintable() or c in "\n\t" for c in text) else None


def _uesc(m: re.Match) -> str | None:
    text = "".join(chr(int(h, 16)) for h in re.findall(r"[0-9a-fA-F]{4}", m.group(0)))
    return text if text.isprintable() else None


def _entity(m: re.Match) -> str | None:
    got = html.unescape(m.group(0))
    return got if got != m.group(0) and (got.isprintable() or got.isspace()) else None


def decode_runs(view: View) -> View:
    for _ in range(2):  # an encoding inside an encoding, once
        before = view.text
        for pattern, decode in ((_ENTITY, _entity), (_UESC, _uesc), (_PERCENT, _percent), (_HEX, _hex), (_B64, _b64)):
            view = _substitute(view, pattern, decode)
        if view.text == before:
            break
    return view


# --- leetspeak --------------------------------------------------------------------------------------
_LEET = str.maketrans({"1": "i", "3": "e", "4": "a", "0": "o", "5": "s", "7": "t", "@": "a", "$": "s"})
_LEET_WORD = re.compile(r"(?<![\w@$/+=-])[A-Za-z0-9@$]*[A-Za-z][A-Za-z0-9@$]*(?![\w@$/+=-])")
_INTERLEAVED = re.compile(r"[A-Za-z][013457@$]+[A-Za-z]|[013457@$][A-Za-z]+[013457@$]")


def _id_like(word: str) -> bool:
    """Hashes, IDs and keys: long, hex, or an upper-case letter right after a lower-case one (digits aside)."""
    letters = "".join(c for c in word if c.isalpha())
    return len(word) > 16 or bool(re.fullmatch(r"[0-9a-fA-F]{6,}", word)) or bool(re.search(r"[a-z][A-Z]", letters))


def _unleet(view: View) -> View:
    """'r3v13w3r5' -> 'reviewers' (same length). A word with a digit between letters (or letters between
    digits) is folded; in a sentence with two such words, so is every word mixing letters with 0 1 3 4 5 7 @ $
    ('4ll'). Units and model names ('0px', 'H100', 'GPT-4o') and IDs are left alone."""
    chars, changed = list(view.text), False
    for sent in re.finditer(r"[^.!?\n]+", view.text):
        words = [w for w in _LEET_WORD.finditer(sent.group(0))
                 if re.search(r"[013457@$]", w.group(0)) and len(w.group(0)) >= 3 and not _id_like(w.group(0))]
        strong = [w for w in words if _INTERLEAVED.search(w.group(0))]
        for w in (words if len(strong) >= 2 else strong):
            a = sent.start() + w.start()
            chars[a:a + len(w.group(0))] = w.group(0).translate(_LEET)
            changed = True
    return View("".join(chars), view.starts, view.ends) if changed else view


def normalise(text: str, offset: int = 0) -> View:
    """The view screening reads: visible, NFKC, Latin skeletons, decoded runs, leetspeak folded."""
    view = View.identity(text, offset)
    view = _nfkc(_visible(view))
    view = _skeleton(decode_runs(_skeleton(view)))
    return _unleet(view)


# --- where the text hides: HTML and Markdown that readers do not see ------------------------------------
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?![.\d]*[1-9])"
                           r"|opacity\s*:\s*0(?:\.0+)?(?![.\d]*[1-9])|(?:height|width)\s*:\s*0(?:px)?\s*[;\"']", re.I)
_OPEN_TAG = re.compile(r"<([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^<>]*?)?)\s*(/?)>")
_HIDDEN_ATTR = re.compile(r"(?:^|\s)(?:hidden|aria-hidden\s*=\s*[\"']?true)(?:[\s=>\"']|$)", re.I)
_TEXT_ATTR = re.compile(r"\b(?:alt|title|aria-label|aria-description|placeholder|summary|data-[\w-]+|content)"
                        r"\s*=\s*(\"[^\"]*\"|'[^']*')", re.I)
_COMMENT = re.compile(r"<!--([\s\S]*?)(?:-->|$)")
_MD_HIDDEN = re.compile(r"!\[([^\]\n]+)\]|\]\([^)\s]+\s+\"([^\"\n]+)\"\)|^\[//\]:\s*#\s*\(([^)\n]*)\)", re.M)


def _element_end(text: str, name: str, start: int) -> int:
    """Where the element whose content starts at `start` closes (nesting of the same name counted)."""
    depth, rx = 1, re.compile(rf"<(/?){re.escape(name)}\b[^>]*>", re.I)
    for m in rx.finditer(text, start):
        depth += -1 if m.group(1) else 1
        if depth == 0:
            return m.start()
    return len(text)


def hidden_views(view: View) -> list[View]:
    """Pieces of a view that readers of the page do not see: comments, alt/title text, hidden elements,
    decoded runs (base64, hex, percent-encoding: readers see only the encoding)."""
    text, pieces = view.text, []
    for m in _COMMENT.finditer(text):
        pieces.append((m.start(1), m.end(1)))
    for m in _OPEN_TAG.finditer(text):
        attrs = m.group(2) or ""
        for a in _TEXT_ATTR.finditer(attrs):
            base = m.start(2) + a.start(1) + 1
            pieces.append((base, base + len(a.group(1)) - 2))
        if not m.group(3) and (_HIDDEN_STYLE.search(attrs) or _HIDDEN_ATTR.search(attrs)):
            pieces.append((m.end(), _element_end(text, m.group(1), m.end())))
    for m in _MD_HIDDEN.finditer(text):
        g = next(i for i in (1, 2, 3) if m.group(i) is not None)
        pieces.append((m.start(g), m.end(g)))
    k = 0
    while k < len(text):  # decoded runs: readers see only the encoding (8+ characters from one run)
        j = k
        while j < len(text) and (view.starts[j], view.ends[j]) == (view.starts[k], view.ends[k]):
            j += 1
        if j - k >= 8 and view.ends[k] - view.starts[k] > 1:
            pieces.append((k, j))
        k = j
    return [view.slice(a, b) for a, b in sorted(set(pieces)) if text[a:b].strip()]
