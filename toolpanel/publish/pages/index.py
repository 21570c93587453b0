"""The latest-verdict tables: the front page, its sorted variants, one per category and verdict."""

from __future__ import annotations

from toolpanel.publish.indexes import index_pages
from toolpanel.publish.pages import Site, page_type
from toolpanel.publish.writer import Writer


class _WithSignup:
    """The writer as index_pages sees it, with the signup block's target in every page's fingerprint (the
    index pages show the block: changing `[newsletter] signup_url` rewrites them)."""

    def __init__(self, w: Writer, signup_url: str):
        self.w, self.key = w, signup_url
        self.out, self.full = w.out, w.full

    def page(self, rel: str, fingerprint: object | None, render) -> None:
        self.w.page(rel, None if fingerprint is None else [fingerprint, self.key], render)

    def __getattr__(self, name: str):  # anything else is the writer's own
        return getattr(self.w, name)


@page_type("index", order=30)
def indexes(site: Site) -> None:
    index_pages(_WithSignup(site.w, site.settings.newsletter.signup_url), site.env, site.render, site.listings,
                site.pages, site.rows, site.th)
