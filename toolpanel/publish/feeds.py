"""Feeds: every verdict as an event, rendered as RSS 2.0 and JSON Feed 1.1."""

from __future__ import annotations

import datetime as dt
import json

from toolpanel import scorecard
from toolpanel.publish.data import SiteData

FEED_ITEMS = 50


def events_of(data: SiteData) -> list[dict]:
    """Every verdict as an event, newest first, with the previous verdict of the same tool."""
    out = []
    for slug, t in data.tools.items():
        prev = None
        for h in t.history:
            out.append({"id": h.verdict_id, "slug": slug, "name": t.name, "at": h.at, "verdict": h.verdict,
                        "label": h.label, "ship": scorecard.pct(h.ship_pct), "spread": h.spread, "split": h.split_panel,
                        "previous": prev and prev.verdict, "previous_id": prev and prev.verdict_id,
                        "tagline": t.tagline, "reason": h.reason, "band": h.band})
            prev = h
    out.sort(key=lambda e: (e["at"], e["id"]), reverse=True)
    return out


def title(e: dict) -> str:
    """An item's title: the verdict and its confidence band, e.g. "Name: Ship · 3 ship / 1 skip (Clear)"."""
    return f"{e['name']}: {scorecard.with_band(e['label'], e.get('band'))}"


def rss(events: list[dict], base: str) -> str:
    from xml.sax.saxutils import escape

    items = []
    for e in events:
        link = f"{base}tools/{e['slug']}.html"
        items.append(
            "<item>"
            f"<title>{escape(title(e))}</title>"
            f"<link>{escape(link)}</link>"
            f"<guid isPermaLink=\"false\">{escape(e['id'])}</guid>"
            f"<pubDate>{e['at'].replace(tzinfo=dt.timezone.utc).strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate>"
            f"<description>{escape('Panel ship ' + e['ship'] + '. ' + (e['tagline'] or ''))}</description>"
            "</item>")
    return ('<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
            f"<title>toolpanel verdicts</title><link>{escape(base + 'index.html')}</link>"
            "<description>Panel verdicts on newly launched AI and developer tools</description>"
            + "".join(items) + "</channel></rss>\n")


def json_feed(events: list[dict], base: str) -> str:
    feed = {
        "version": "https://jsonfeed.org/version/1.1", "title": "toolpanel verdicts",
        "home_page_url": base + "index.html", "feed_url": base + "feed.json",
        "items": [{"id": e["id"], "url": f"{base}tools/{e['slug']}.html", "title": title(e),
                   "content_text": f"Panel ship {e['ship']}. {e['tagline'] or ''}".strip(),
                   "date_published": e["at"].replace(tzinfo=dt.timezone.utc).isoformat()} for e in events],
    }
    return json.dumps(feed, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
