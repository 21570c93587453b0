"""Parse what a source sent (pure, bytes in): RSS/Atom (feedparser), JSON Feed, CSV and JSON launch lists."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass, field
from xml.sax import SAXParseException

import feedparser

from toolpanel.errors import ToolpanelError
from toolpanel.ingest.models import RawItem

FEED_KINDS = ("rss", "atom", "feed")
# Spreadsheet headers people actually use -> the card field they mean.
COLUMN_ALIASES = {"title": "name", "tool": "name", "website": "url", "link": "url", "homepage": "url",
                  "price": "pricing", "summary": "description", "best_for": "tagline", "launch_date": "launched",
                  "date": "launched"}
LIST_FIELDS = ("name", "slug", "url", "category", "tagline", "pricing", "entry", "launched", "description")


class SourceUnreadable(ToolpanelError):
    """The whole source is unusable (not a feed, not well-formed, wrong shape)."""


@dataclass
class Parsed:
    items: list[RawItem]
    notes: list[str] = field(default_factory=list)


def sniff(data: bytes, content_type: str = "", location: str = "") -> str:
    """Guess the kind of an ad-hoc source from its name, its Content-Type, then its first byte."""
    loc = location.lower().split("?", 1)[0]
    ctype = content_type.lower()
    if loc.endswith(".csv") or "text/csv" in ctype:
        return "csv"
    if loc.endswith((".json", ".jsonfeed")) or "json" in ctype:
        return "json"
    if loc.endswith((".xml", ".rss", ".atom")) or any(x in ctype for x in ("xml", "rss", "atom")):
        return "feed"
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if head in (b"{", b"["):
        return "json"
    if head == b"<":
        return "feed"
    return "csv"


def parse(kind: str, data: bytes) -> Parsed:
    if kind in FEED_KINDS:
        return parse_feed(data)
    if kind == "jsonfeed":
        return parse_jsonfeed(_json(data))
    if kind == "json":
        doc = _json(data)
        if isinstance(doc, dict) and "jsonfeed.org" in str(doc.get("version", "")):
            return parse_jsonfeed(doc)
        return parse_json_list(doc)
    if kind == "csv":
        return parse_csv(data)
    raise ValueError(f"unknown kind {kind!r}")


def _date(parsed) -> dt.date | None:
    return dt.date(parsed.tm_year, parsed.tm_mon, parsed.tm_mday) if parsed else None


def parse_feed(data: bytes) -> Parsed:
    """RSS 0.9x/1.0/2.0 and Atom via feedparser; a feed that is not well-formed XML is refused whole."""
    if data.lstrip()[:1] in (b"{", b"["):
        raise SourceUnreadable("is JSON, not an RSS or Atom feed",
                               'set kind = "jsonfeed" (or "json" for a launch list)')
    d = feedparser.parse(data)  # bytes: feedparser never fetches anything itself
    exc = d.get("bozo_exception")
    # An undefined entity (&nbsp; in RSS) is common and harmless; anything else means the XML is broken and
    # the lenient parser would hand us truncated items that look like real changes.
    if isinstance(exc, SAXParseException) and "undefined entity" not in str(exc):
        raise SourceUnreadable(f"is not well-formed XML ({exc.getMessage()} at line {exc.getLineNumber()}, "
                               f"column {exc.getColumnNumber()})",
                               "the publisher must fix the feed; nothing from it was read this run")
    if not d.get("version"):
        raise SourceUnreadable("is not an RSS or Atom feed",
                               "check that the URL is the feed itself, not the web page that links to it")
    items = []
    for n, e in enumerate(d.entries, start=1):
        tags = e.get("tags") or []
        content = e.get("content") or []
        items.append(RawItem(
            index=n, label=f"item {n}", title=e.get("title"), url=e.get("link"), summary=e.get("summary"),
            content=content[0].get("value") if content else None,
            category=(tags[0].get("term") or tags[0].get("label")) if tags else None,
            launched=_date(e.get("published_parsed") or e.get("updated_parsed"))))
    return Parsed(items)


def _json(data: bytes):
    try:
        return json.loads(data)
    except RecursionError:
        raise SourceUnreadable("is JSON nested too deeply to read",
                               "the publisher must fix the document; nothing from it was read this run") from None
    except UnicodeDecodeError:
        raise SourceUnreadable("is not UTF-8 text", "the publisher must serve UTF-8 JSON") from None
    except json.JSONDecodeError as exc:
        raise SourceUnreadable(f"is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})",
                               "fix the JSON; nothing from it was read this run") from None


def parse_jsonfeed(doc) -> Parsed:
    """JSON Feed 1.0/1.1: `external_url` (the tool) wins over `url` (the post about it)."""
    if not isinstance(doc, dict) or "jsonfeed.org" not in str(doc.get("version", "")):
        raise SourceUnreadable("is not a JSON Feed (no \"version\": \"https://jsonfeed.org/version/1.1\")",
                               'use kind = "json" for a plain launch list')
    entries = doc.get("items")
    if not isinstance(entries, list):
        raise SourceUnreadable("has no \"items\" list", "a JSON Feed keeps its entries in \"items\": [...]")
    items = []
    for n, e in enumerate(entries, start=1):
        if not isinstance(e, dict):
            e = {}
        tags = e.get("tags") if isinstance(e.get("tags"), list) else []
        items.append(RawItem(
            index=n, label=f"item {n}", title=e.get("title"), url=e.get("external_url") or e.get("url"),
            summary=e.get("summary"), content=e.get("content_html") or e.get("content_text"),
            category=tags[0] if tags else None, launched=e.get("date_published")))
    return Parsed(items)


def _columns(keys) -> tuple[dict[str, str], list[str]]:
    """Header -> field, and the headers that mean nothing to toolpanel."""
    mapping, unknown = {}, []
    for key in keys:
        norm = str(key or "").strip().lower().replace(" ", "_").replace("-", "_")
        target = COLUMN_ALIASES.get(norm, norm)
        if target in LIST_FIELDS and target not in mapping.values():
            mapping[key] = target
        elif norm:
            unknown.append(str(key))
    return mapping, unknown


def _row_item(row: dict, mapping: dict[str, str], index: int, label: str) -> RawItem:
    values = {f: row.get(k) for k, f in mapping.items()}
    values = {k: (v if not isinstance(v, str) or v.strip() else None) for k, v in values.items()}
    return RawItem(index=index, label=label, title=values.get("name"), url=values.get("url"),
                   summary=values.get("description"), category=values.get("category"),
                   tagline=values.get("tagline"), pricing=values.get("pricing"), entry=values.get("entry"),
                   launched=values.get("launched"), slug=values.get("slug"))


def _ignored(unknown: list[str]) -> list[str]:
    return [f"ignored column(s) {', '.join(repr(u) for u in unknown)} — toolpanel reads {', '.join(LIST_FIELDS)}"
            ] if unknown else []


def parse_csv(data: bytes) -> Parsed:
    """An editor's spreadsheet export: a header row, then one tool a row."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SourceUnreadable("is not UTF-8 text", "export the sheet as CSV UTF-8") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = reader.fieldnames or []
    except csv.Error as exc:
        raise SourceUnreadable(f"is not valid CSV ({exc})", "export the sheet again as CSV") from None
    mapping, unknown = _columns(header)
    if "name" not in mapping.values():
        raise SourceUnreadable("has no 'name' (or 'title') column",
                               "start the file with a header row, e.g. name,url,tagline,pricing,description")
    items = []
    try:
        for row in reader:
            if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
                continue  # blank line
            items.append(_row_item(row, mapping, reader.line_num, f"line {reader.line_num}"))
    except csv.Error as exc:
        raise SourceUnreadable(f"is not valid CSV at line {reader.line_num} ({exc})",
                               "export the sheet again as CSV") from None
    return Parsed(items, _ignored(unknown))


def parse_json_list(doc) -> Parsed:
    """A JSON launch list: [{...}, ...] or {"tools": [...]} / {"items": [...]}, fields as in a card."""
    entries = doc
    if isinstance(doc, dict):
        entries = next((doc[k] for k in ("tools", "items") if isinstance(doc.get(k), list)), None)
    if not isinstance(entries, list):
        raise SourceUnreadable("is not a launch list (expected [...] or {\"tools\": [...]})",
                               'give a list of objects with name, url, description, ... or use kind = "jsonfeed"')
    keys: list[str] = []
    for e in entries:
        if isinstance(e, dict):
            keys.extend(k for k in e if k not in keys)
    mapping, unknown = _columns(keys)
    items = [_row_item(e if isinstance(e, dict) else {}, mapping, n, f"item {n}") for n, e in enumerate(entries, 1)]
    return Parsed(items, _ignored(unknown))
