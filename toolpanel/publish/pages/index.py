"""The latest-verdict tables: the front page, its sorted variants, one per category and verdict."""

from __future__ import annotations

from toolpanel.publish.indexes import index_pages
from toolpanel.publish.pages import Site, page_type


@page_type("index", order=30)
def indexes(site: Site) -> None:
    index_pages(site.w, site.env, site.render, site.listings, site.pages, site.rows, site.th)
