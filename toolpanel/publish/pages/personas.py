"""The panel: an index of the personas and a page per persona with its record."""

from __future__ import annotations

from toolpanel.publish.pages import Site, page_type

NO_STATS = {"ok": 0, "abstained": 0, "ship_rate_pct": None, "mean_score": None, "grounded_pct": None}  # nothing published yet


@page_type("personas", order=40)
def persona_pages(site: Site) -> None:
    site.w.page("personas/index.html", None, lambda: site.render("personas.html.j2", "../"))
    for persona in site.personas:
        site.w.page(f"personas/{persona.id}.html", None, lambda persona=persona: site.render(
            "persona.html.j2", "../", persona=persona, stats=site.data.persona_stats.get(persona.id, NO_STATS),
            recent=site.data.persona_recent.get(persona.id, [])))
