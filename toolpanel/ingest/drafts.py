"""Reading one source into drafts (a Tool per item, before identity and enrichment); every problem
becomes one rejection on the item or on the source, never an exception."""

from __future__ import annotations

from dataclasses import dataclass

from toolpanel.ingest.cards import load_cards
from toolpanel.sections import Limits
from toolpanel.errors import ToolpanelError
from toolpanel.ingest.feeds import Parsed, SourceUnreadable, parse, sniff
from toolpanel.ingest.fetch import Fetcher, read_file
from toolpanel.ingest.models import ItemOutcome, RawItem, Rejection, SourceOutcome
from toolpanel.ingest.normalize import ItemRejected, normalize
from toolpanel.ingest.sources import SourceSpec
from toolpanel.ingest.urls import canonical_url
from toolpanel.models import Tool


@dataclass
class Draft:
    spec: SourceSpec
    label: str
    index: int  # position in its source
    tool: Tool  # description = the item's own text (may be empty when enrichment will fill it)
    item_hash: str

    @property
    def card(self) -> bool:
        return self.spec.kind == "cards"


def _label(raw: RawItem) -> str:
    title = raw.title if isinstance(raw.title, str) else None
    title = " ".join((title or "").split())
    return f'{raw.label} "{title[:60]}{"…" if len(title) > 60 else ""}"' if title else raw.label


def read_source(spec: SourceSpec, fetcher: Fetcher, limits: Limits) -> tuple[str, Parsed]:
    """Bytes from the URL or file, parsed by kind (auto: sniffed); raises FetchFailed / SourceUnreadable."""
    if spec.url:
        page = fetcher.get(spec.url, accept="application/rss+xml, application/atom+xml, application/feed+json, "
                                            "application/json, text/csv, application/xml;q=0.9, */*;q=0.5")
        data, ctype, where = page.body, page.content_type, page.url
    else:
        data, ctype, where = read_file(spec.paths[0], limits.source_bytes), "", str(spec.paths[0])
    if spec.kind == "auto" and "html" in ctype.lower() and not data.lstrip()[:5].lower().startswith(b"<?xml"):
        raise SourceUnreadable("is a web page, not a feed or list",
                               "give the address of the feed (look for an RSS/Atom link on the page)")
    kind = spec.kind if spec.kind != "auto" else sniff(data, ctype, where)
    try:
        return kind, parse(kind, data)
    except ToolpanelError:
        raise
    except Exception as exc:  # totality: whatever else a parser raises is this source's rejection
        raise SourceUnreadable(f"could not be parsed as {kind} ({exc.__class__.__name__})",
                               "the publisher must fix the document; nothing from it was read this run") from None


def source_drafts(spec: SourceSpec, fetcher: Fetcher, limits: Limits, outcome: SourceOutcome,
            items: list[ItemOutcome]) -> list[Draft]:
    """One source -> drafts; every problem becomes a rejection on `items` or on `outcome`."""
    cap = limits.message_chars
    if spec.kind == "cards":
        tools, errors = load_cards(list(spec.paths), limits)
        outcome.items = len(tools) + len(errors)
        for e in errors:
            rej = Rejection.of(e, source=spec.name, card=True, cap=cap)
            items.append(ItemOutcome(source=spec.name, item=rej.path, status="rejected", reason=rej.reason,
                                     rejection=rej))
        drafts = []
        for t in tools:  # card URLs passed the card's own URL check, so canonicalising them cannot fail
            t = t.model_copy(update={"url": canonical_url(t.url)}) if t.url else t
            drafts.append(Draft(spec, t.slug, 0, t, t.snapshot_hash))
        return drafts
    try:
        kind, parsed = read_source(spec, fetcher, limits)
    except ToolpanelError as exc:
        outcome.status = "failed"
        outcome.error = Rejection.of(exc, source=spec.name, url=spec.url or spec.location, cap=cap)
        return []
    if spec.kind == "auto":
        outcome.kind = kind
    raws = parsed.items
    outcome.notes.extend(parsed.notes)
    if spec.max_items and len(raws) > spec.max_items:
        outcome.notes.append(f"read the first {spec.max_items} of {len(raws)} items (max_items)")
        raws = raws[:spec.max_items]
    outcome.items = len(raws)
    split = spec.split_title if spec.split_title is not None else kind in ("rss", "atom", "feed", "jsonfeed")
    drafts = []
    for raw in raws:
        label = _label(raw)
        try:
            tool = normalize(raw, source=spec.name, category=spec.category, split=split,
                             allow_empty_description=spec.enrich)
        except Exception as exc:  # ItemRejected, or anything else a hostile item provokes: one line, never the run
            if not isinstance(exc, ToolpanelError):
                exc = ItemRejected(f"could not be read ({exc.__class__.__name__})",
                                   "the publisher must fix the item; the item was skipped")
            url = raw.url if isinstance(raw.url, str) else None
            rej = Rejection.of(exc, source=spec.name, item=label, url=url, cap=cap)
            items.append(ItemOutcome(source=spec.name, item=label, index=raw.index, status="rejected", url=url,
                                     reason=rej.reason, rejection=rej))
            continue
        drafts.append(Draft(spec, label, raw.index, tool, tool.snapshot_hash))
    return drafts
