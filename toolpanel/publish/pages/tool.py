"""A page per tool: verdict, takes, history chart, comparisons, what changed."""

from __future__ import annotations

from toolpanel.publish.chart import LEGEND, chart_svg
from toolpanel.publish.pages import Site, page_type
from toolpanel.text import slugify


@page_type("tool", order=10)
def tool_pages(site: Site) -> None:
    for t in site.listings:
        links = site.pair_links.get(t.slug, [])
        site.w.page(f"tools/{t.slug}.html", site.tool_fp[t.slug],
                    lambda p=site.pages.get(t.slug), links=links: site.render(
                        "tool.html.j2", "../", p=p, chart=chart_svg(p) if p.history else "", legend=LEGEND,
                        comparisons=links,
                        category_slug=slugify(p.tool.category or "uncategorised"),
                        change=site.changed.get(p.history[-1].verdict_id) if p.history else None))
