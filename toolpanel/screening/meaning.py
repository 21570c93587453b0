"""Rules by meaning (issue 23): a sentence that addresses whoever reviews the card, about the verdict.

Data in the `meaning:` section of screening/rules.yaml: per language, four lexicons of regular-expression
stems (`reviewer`, `verdict`, `target`, `request`). A sentence is flagged when it uses verdict vocabulary
together with two of the other three (in short fields and hidden text, with a reviewer alone).
A sentence in a language no lexicon covers is flagged too, because nothing here can read it: the language
comes from py3langid's bundled model (no download, no network). Pure; the rules file is read once.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from toolpanel.errors import ConfigError

KINDS = ("reviewer", "verdict", "target", "request")
# A sentence ends at . ! ? (and their CJK, Devanagari and Arabic forms), at a blank line, or before a line
# that starts a list item, heading, quote or table row; a single line break inside a paragraph does not end it.
_END = re.compile(r"[.!?。！？।؟]+[\"'”’)\]]*(?=\s|$)|[。！？]|\n[ \t]*\n|\n(?=[ \t]*(?:[-*+>#|•]|\d+[.)]\s|<|\*\*))")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


@dataclass(frozen=True)
class Lexicon:
    lang: str
    patterns: dict[str, re.Pattern | None]

    def kinds(self, sentence: str, joined: "Lexicon | None" = None) -> set[str]:
        found = {k for k, rx in self.patterns.items() if rx is not None and rx.search(sentence)}
        if joined is not None:
            found |= joined.kinds(sentence)
        return found


@dataclass(frozen=True)
class Meaning:
    languages: tuple[Lexicon, ...]
    joined: Lexicon | None
    min_letters: int = 40
    min_confidence: float = 0.9

    @property
    def covered(self) -> frozenset[str]:
        return frozenset(lex.lang for lex in self.languages)


class MeaningError(ConfigError):
    """The `meaning:` section is unusable (names the language and lexicon): exit 2."""


def _compile(lang: str, kind: str, entries, words: bool, path) -> re.Pattern | None:
    if not entries:
        return None
    prefix = r"(?<!\w)" if words else ""
    try:
        return re.compile("|".join(f"{prefix}(?:{e})" for e in entries), re.IGNORECASE)
    except re.error as exc:
        raise MeaningError(f"{path}: meaning.{lang}.{kind}: bad regular expression ({exc}) — fix the entry")


def _lexicon(lang: str, raw: dict, path) -> Lexicon:
    if not isinstance(raw, dict) or set(raw) - {*KINDS, "words"}:
        raise MeaningError(f"{path}: meaning.{lang}: expected lexicons {', '.join(KINDS)} (and words: true|false)")
    words = raw.get("words", True)
    return Lexicon(lang, {k: _compile(lang, k, raw.get(k), words, path) for k in KINDS})


@functools.lru_cache(maxsize=8)
def load_meaning(path: Path) -> Meaning | None:
    """The `meaning:` section of a rules file, compiled once; None when the file has none (phrases only)."""
    data = (yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}).get("meaning")
    if not data:
        return None
    langs = tuple(_lexicon(lang, raw, path) for lang, raw in (data.get("languages") or {}).items())
    joined = _lexicon("any", data["any"], path) if data.get("any") else None
    unc = data.get("uncovered") or {}
    return Meaning(langs, joined, int(unc.get("min_letters", 40)), float(unc.get("min_confidence", 0.9)))


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence with some text in it, surrounding whitespace excluded."""
    out, start = [], 0
    for m in [*_END.finditer(text), None]:
        a, b = start, (m.end() if m else len(text))
        start = b
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            out.append((a, b))
    return out


def addressed(sentence: str, meaning: Meaning, *, strict: bool = False) -> str | None:
    """The language whose lexicons read `sentence` as addressing the reviewers about the verdict, or None.
    English and the (at most two) other covered languages the detector gives 1 % or more are tried. `strict`: a short
    field or hidden text, where verdict words with a reviewer are enough."""
    best, best_n = None, 0
    for lex in _candidates(sentence, meaning):
        kinds = lex.kinds(sentence, meaning.joined)
        if "verdict" not in kinds:
            continue
        n = len(kinds & {"reviewer", "target", "request"})
        if (n >= 2 or (strict and "reviewer" in kinds)) and n > best_n:
            best, best_n = lex.lang, n
    return best


def _candidates(sentence: str, meaning: Meaning) -> list[Lexicon]:
    by_lang = {lex.lang: lex for lex in meaning.languages}
    ranked = [lang for lang, p in _identifier().rank(sentence) if p >= 0.01 and lang in by_lang and lang != "en"][:2]
    return [by_lang[lang] for lang in ("en", *ranked) if lang in by_lang]


@functools.lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def letters(sentence: str) -> int:
    """Letters in a sentence, a CJK character counting as three (they carry a word each)."""
    return sum(c.isalpha() for c in sentence) + 2 * len(_CJK.findall(sentence))


def uncovered(sentence: str, meaning: Meaning) -> str | None:
    """The sentence's most likely language when it is long enough and the detector gives the covered
    languages less than 1 - min_confidence together (closely related uncovered languages add up)."""
    if letters(sentence) < meaning.min_letters:
        return None
    ranked = _identifier().rank(sentence)
    if sum(p for lang, p in ranked if lang in meaning.covered) >= 1 - meaning.min_confidence:
        return None
    return ranked[0][0]
