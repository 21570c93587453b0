"""Items -> Tool (pure): HTML to plain text, titles split into name and tagline, the card's validation."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser

from toolpanel.ingest.cardyaml import CardError
from toolpanel.ingest.cards import card_to_tool
from toolpanel.errors import ToolpanelError
from toolpanel.ingest.models import RawItem
from toolpanel.ingest.urls import BadURL, canonical_url
from toolpanel.models import Tool
from toolpanel.text import DESCRIPTION_CAP, clean_line, clean_text

_SKIP = {"script", "style", "noscript", "template", "iframe", "object", "svg", "math", "head", "title", "select"}
_BLOCK = {"p", "div", "br", "li", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table",
          "section", "article", "header", "footer", "aside", "blockquote", "pre", "hr", "figure", "figcaption"}
_TITLE_PREFIX = re.compile(r"^(?:show|launch|ask)\s+hn\s*:\s*", re.I)
_TITLE_SPLIT = re.compile(r"\s+[—–-]\s+|:\s+")


class ItemRejected(ToolpanelError):
    """One feed or list item is unusable (field, problem, fix); the rest of its source is read."""


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in _SKIP:
            self.skipping += 1
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_startendtag(self, tag, attrs):
        if tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in _SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    """Plain text: tags dropped (script/style with their content), entities decoded, invisible characters gone."""
    parser = _Text()
    parser.feed(markup)
    parser.close()
    text = "".join(parser.parts)
    text = "\n".join(re.sub(r"[^\S\n]+", " ", line).strip() for line in text.replace("\r", "\n").split("\n"))
    return clean_text(text)


def split_title(title: str) -> tuple[str, str | None]:
    """'Show HN: Acme – notes that test themselves' -> ('Acme', 'notes that test themselves')."""
    title = _TITLE_PREFIX.sub("", title).strip()
    m = _TITLE_SPLIT.search(title)
    if m:
        name, rest = title[:m.start()].strip(), title[m.end():].strip()
        if name and rest and len(name.split()) <= 6:
            return name, rest
    return title, None


def _text(value: object, field: str, multiline: bool = False) -> str | None:
    if value is None:
        return None
    if isinstance(value, (dict, list, tuple)):
        raise ItemRejected(f"expected text, got a {type(value).__name__}",
                           "the publisher must give this field as text; the item was skipped", field=field)
    text = html_to_text(str(value))
    text = text if multiline else clean_line(text)
    return text or None


def _date(value: object) -> object:
    if value is None or isinstance(value, dt.date):
        return value
    text = clean_line(str(value))
    m = re.match(r"^(\d{4}-\d{2}-\d{2})(?:[T ][0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$", text)
    return m.group(1) if m else (text or None)


def own_description(raw: RawItem) -> str:
    """The longest of summary/content that fits the cap; if none fits, the shortest (it will be refused)."""
    texts = [t for t in (_text(raw.summary, "description", True), _text(raw.content, "content", True)) if t]
    if not texts:
        return ""
    fitting = [t for t in texts if len(t) <= DESCRIPTION_CAP]
    return max(fitting, key=len) if fitting else min(texts, key=len)


def normalize(raw: RawItem, *, source: str, category: str | None = None, split: bool = False,
              allow_empty_description: bool = False) -> Tool:
    """One raw item as a Tool (description = the item's own text); raises ItemRejected."""
    title = _text(raw.title, "title")
    if not title:
        raise ItemRejected("has no title", "the publisher must give every item a title; the item was skipped",
                           field="title")
    name, tagline = split_title(title) if split else (title, None)
    link = _text(raw.url, "link")
    if not link:
        raise ItemRejected("has no link",
                           "the panel needs the tool's address; feed and list items without one are skipped",
                           field="link")
    try:
        url = canonical_url(link)
    except BadURL as exc:
        raise ItemRejected(exc.problem, "only http(s) links are read; the item was skipped", field="link") from None
    description = own_description(raw)
    if len(description) > DESCRIPTION_CAP:
        raise ItemRejected(f"is {len(description):,} characters, over the cap of {DESCRIPTION_CAP:,}",
                           "feed and list descriptions are refused, not truncated; write a card for the tool if it "
                           "should be reviewed", field="description")
    if not description and not allow_empty_description:
        raise ItemRejected("is missing",
                           "set `enrich = true` on the source to read the tool's page, or write a card for it",
                           field="description")
    data = {"name": name, "url": url, "category": _text(raw.category, "category") or category,
            "tagline": _text(raw.tagline, "tagline") or tagline, "pricing": _text(raw.pricing, "pricing"),
            "entry": _text(raw.entry, "entry"), "launched": _date(raw.launched), "slug": _text(raw.slug, "slug"),
            "description": description or "-"}
    try:
        tool = card_to_tool({k: v for k, v in data.items() if v is not None}, "", raw.label, source=source)
    except CardError as exc:  # the same problem, told about the item instead of a file
        raise ItemRejected(exc.problem, exc.fix, field=exc.field) from None
    return tool if description else tool.model_copy(update={"description": ""})


def fit(text: str, cap: int = DESCRIPTION_CAP) -> str:
    """Cut text to `cap` at a paragraph (else sentence, else word) boundary, marking the cut with '…'."""
    if len(text) <= cap:
        return text
    head = text[:cap - 3]  # room for the ' …' mark
    for sep in ("\n\n", "\n", ". ", " "):
        at = head.rfind(sep)
        if at > cap // 2:
            return head[:at + (1 if sep == ". " else 0)].rstrip() + " …"
    return head.rstrip() + "…"
