"""RSS and JSON Feed of the newest published verdicts."""

from __future__ import annotations

from toolpanel.publish.feeds import FEED_ITEMS, json_feed, rss
from toolpanel.publish.pages import Site, page_type


@page_type("feeds", order=50)
def feeds(site: Site) -> None:
    newest = site.events[:FEED_ITEMS]
    fp = [site.th, site.base, [(e["id"], e["name"], e["tagline"], e["band"]) for e in newest]]
    site.w.page("feed.xml", fp, lambda: rss(newest, site.base))
    site.w.page("feed.json", fp, lambda: json_feed(newest, site.base))
