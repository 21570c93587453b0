"""Word-level differences between two texts, and how they are said ("lost 42 words ('Pricing: …')")."""

from __future__ import annotations

import difflib

from toolpanel.models import TextDiff

EXCERPT_WORDS = 6


def word_diff(before: str | None, after: str | None) -> TextDiff:
    """Word-level diff (whitespace is not a change, as for the snapshot hash)."""
    a, b = (before or "").split(), (after or "").split()
    removed, added = [], []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op in ("delete", "replace"):
            removed.append(" ".join(a[i1:i2]))
        if op in ("insert", "replace"):
            added.append(" ".join(b[j1:j2]))
    return TextDiff(removed_words=sum(len(p.split()) for p in removed), added_words=sum(len(p.split()) for p in added),
                    removed=removed, added=added)


def excerpt(passages: list[str], words: int = EXCERPT_WORDS) -> str:
    """The longest passage, cut to a few words: "'Pricing: $20/month …'"."""
    if not passages:
        return ""
    longest = max(passages, key=lambda p: len(p.split())).split()
    return "'" + " ".join(longest[:words]) + (" …" if len(longest) > words else "") + "'"


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def diff_phrase(d: TextDiff, subject: str) -> str:
    """"the description lost 42 words ('Pricing: $20/month …') and gained 3 ('…')"."""
    parts = []
    if d.removed_words:
        parts.append(f"lost {_n(d.removed_words, 'word')} ({excerpt(d.removed)})")
    if d.added_words:
        gained = _n(d.added_words, "word") if not d.removed_words else str(d.added_words)
        parts.append(f"gained {gained} ({excerpt(d.added)})")
    return f"{subject} " + (" and ".join(parts) if parts else "changed")
