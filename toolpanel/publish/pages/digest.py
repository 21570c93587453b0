"""The weekly digest, on the web and as the email version."""

from __future__ import annotations

from toolpanel.publish.digest import digest as write_digest
from toolpanel.publish.pages import Site, page_type


@page_type("digest", order=60)
def digest(site: Site) -> None:
    write_digest(site.w, site.env, site.events, site.base, site.th, why=site.why, pairs=site.pair_meta)
