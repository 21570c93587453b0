"""Enrichment: the main text of a tool's own page, when the feed's summary is too short to review."""

from __future__ import annotations

from toolpanel.ingest.fetch import FetchFailed, Fetcher
from toolpanel.ingest.normalize import fit
from toolpanel.text import DESCRIPTION_CAP, clean_text


def main_text(html: bytes, url: str | None = None) -> str:
    """The page's main text (navigation, footers, scripts and comments left out), plain and cleaned."""
    import trafilatura  # ~0.2 s to import; only runs that enrich pay it

    text = trafilatura.extract(html, url=url, include_comments=False, include_tables=False, include_links=False,
                               include_images=False, favor_precision=True, deduplicate=True)
    return clean_text(text or "")


def page_description(fetcher: Fetcher, url: str) -> str:
    """Fetch `url` (robots.txt first) and return its main text; FetchFailed says why not."""
    if not fetcher.allowed(url):
        raise FetchFailed("robots.txt does not allow toolpanel to read the page",
                          "nothing to do: the site asked crawlers to stay away; the item keeps its own summary")
    page = fetcher.get(url, accept="text/html,application/xhtml+xml")
    if "html" not in page.content_type.lower():
        raise FetchFailed(f"the page is not HTML ({page.content_type or 'no Content-Type'})",
                          "nothing to do: only HTML pages are read")
    try:
        text = main_text(page.body, page.url)
    except Exception as exc:  # a hostile page is this item's problem, never the run's
        raise FetchFailed(f"the page could not be read ({exc.__class__.__name__})",
                          "nothing to do: the item keeps its own summary") from None
    if not text:
        raise FetchFailed("no main text found on the page", "nothing to do: the page has no readable text")
    return text


def combine(own: str, page: str) -> str:
    """The item's own text first, then the page's; the page part is cut at a paragraph boundary to fit the cap.

    Unlike a feed's description (refused when too long), the page text is our own extract: cutting it
    loses nothing the source claimed, and a long landing page is the normal case, not an attack.
    """
    if not own:
        return fit(page, DESCRIPTION_CAP)
    if page.startswith(own) or own in page[:len(own) * 2]:
        return fit(page, DESCRIPTION_CAP)
    return own + "\n\n" + fit(page, DESCRIPTION_CAP - len(own) - 2)
