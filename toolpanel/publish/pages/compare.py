"""A vs B — which one should you ship with? A page per pair, and their index."""

from __future__ import annotations

from scoring.rules import compare
from toolpanel.publish.data import ToolPage
from toolpanel.publish.pages import Site, page_type
from toolpanel.summaries import PairRecord


@page_type("compare", order=20)
def comparison_pages(site: Site) -> None:
    for m in site.pair_meta:
        site.w.page(f"compare/{m['path']}", site.pair_fp[m["path"]],
                    lambda m=m: _render(site, site.pages[m["a"]], site.pages[m["b"]], site.answers.get(m["path"])))
    site.w.page("compare/index.html", [site.th, [(m["path"], m["title"], m["category"]) for m in site.pair_meta]],
                lambda: site.render("compare_index.html.j2", "../", pairs=site.pair_meta))


def _render(site: Site, a: ToolPage, b: ToolPage, answer: PairRecord | None) -> str:
    cmp = None
    if a.verdict and b.verdict:
        cmp = compare(a.verdict, b.verdict, list(a.takes.values()), list(b.takes.values()),
                      [p.id for p in site.personas], names=(a.tool.name, b.tool.name))
    missing = [p.tool.name for p in (a, b) if p.verdict is None]
    return site.render("compare.html.j2", "../", a=a, b=b, cmp=cmp, missing=missing, answer=cmp and answer)
