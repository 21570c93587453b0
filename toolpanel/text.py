"""Pure text hygiene for untrusted vendor text."""

from __future__ import annotations

import re
import unicodedata

DESCRIPTION_CAP = 8_000  # characters; longer vendor text is refused, not truncated
FIELD_CAP = 300  # characters for one-line fields (name, tagline, pricing, ...)

_KEEP = {"\n", "\t"}


def strip_invisible(text: str) -> str:
    """Remove zero-width, bidi-control and other invisible format/control characters."""
    out = []
    for ch in text:
        if ch in _KEEP:
            out.append(ch)
            continue
        cat = unicodedata.category(ch)
        if cat in ("Cf", "Cc", "Co", "Cs") or ch in "\u2028\u2029":
            continue
        out.append(ch)
    return "".join(out)


def clean_text(text: str) -> str:
    """Invisible characters stripped, line endings normalised, outer whitespace trimmed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = strip_invisible(text)
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def clean_line(text: str) -> str:
    """One-line field: invisible characters stripped, whitespace collapsed."""
    return re.sub(r"\s+", " ", strip_invisible(text)).strip()


def slugify(name: str) -> str:
    norm = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", norm.lower()).strip("-")
    return slug[:80].strip("-")


SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def md_escape(text: str) -> str:
    """Model and vendor text are data: neutralise HTML and Markdown link/image syntax."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("[", "\\[").replace("]", "\\]"))


def short(text: str, limit: int = 200) -> str:
    """One line of at most `limit` characters (whitespace collapsed, '…' where cut): for errors and notes."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
