"""The stylesheet every page links."""

from __future__ import annotations

from toolpanel.publish.render import STYLESHEET
from toolpanel.publish.pages import Site, page_type


@page_type("style", order=0)
def style(site: Site) -> None:
    site.w.page("style.css", [site.th], lambda: STYLESHEET.read_bytes())
