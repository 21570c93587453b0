"""Render the static site from the warehouse: deterministic, escaped, incremental."""

from __future__ import annotations

import contextlib
import gc
import hashlib
import itertools
from pathlib import Path

from scoring.rules import compare
from toolpanel.config import Settings
from toolpanel.panel.personas import load_personas
from toolpanel.publish.chart import chart_svg
from toolpanel.publish.data import Listing, SiteData, ToolPage, load_pages, load_site_data
from toolpanel.publish.digest import digest
from toolpanel.publish.feeds import FEED_ITEMS, events_of, json_feed, rss
from toolpanel.publish.indexes import cached_rows, index_pages
from toolpanel.publish.render import STYLESHEET, env as _env, templates_hash
from toolpanel.publish.writer import Writer
from toolpanel.text import slugify
from warehouse.store import Warehouse
from warehouse.changes import explain_pairs


AUTO_PAIRS_PER_CATEGORY = 6  # the N most recently reviewed tools of a category are compared pairwise
NO_STATS = {"ok": 0, "abstained": 0, "ship_rate_pct": None, "mean_score": None, "grounded_pct": None}  # nothing published yet


class PublishError(Exception):
    pass


def comparison_pairs(data: SiteData, editor_pairs: list) -> tuple[list[tuple[str, str]], list[str]]:
    """Editor-listed pairs first, then automatic pairs within each category (bounded)."""
    warnings: list[str] = []
    pairs: list[tuple[str, str]] = []
    seen: set[frozenset] = set()
    for pair in editor_pairs:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            warnings.append(f"[publish] pairs: {pair!r} is not a pair of two slugs — write [\"slug-a\", \"slug-b\"]")
            continue
        a, b = pair
        missing = [s for s in (a, b) if s not in data.tools]
        if missing:
            warnings.append(f"[publish] pairs: unknown tool {', '.join(missing)} — check the slug (toolpanel history SLUG)")
            continue
        if frozenset((a, b)) not in seen and a != b:
            seen.add(frozenset((a, b)))
            pairs.append((a, b))
    by_cat: dict[str, list[Listing]] = {}
    for t in data.tools.values():
        if t.verdict is not None and t.category:
            by_cat.setdefault(t.category, []).append(t)
    for cat in sorted(by_cat):
        recent = sorted(by_cat[cat], key=lambda t: (t.reviewed_at, t.slug), reverse=True)[:AUTO_PAIRS_PER_CATEGORY]
        for a, b in itertools.combinations(sorted(t.slug for t in recent), 2):
            if frozenset((a, b)) not in seen:
                seen.add(frozenset((a, b)))
                pairs.append((a, b))
    return pairs, warnings


@contextlib.contextmanager
def _without_gc_passes():
    """The site's data is ~10^5 long-lived objects with no reference cycles; the collector's full passes
    over them cost a quarter of an incremental publish. Pages are freed by reference counting anyway."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def publish_site(settings: Settings, *, full: bool = False, out: Path | None = None) -> dict:
    """Render the site into TOOLPANEL_HOME/site (or `out`); returns counts written/skipped/removed."""
    with _without_gc_passes():
        return _publish(settings, full, out)


def _publish(settings: Settings, full: bool, out: Path | None) -> dict:
    store = Warehouse(settings.warehouse_path)
    if not settings.warehouse_path.exists():
        raise PublishError(f"{settings.warehouse_path}: no warehouse yet — review some tools first "
                           "(toolpanel review examples/tools)")
    personas = load_personas(settings.personas_dir)
    base = settings.publish.root
    out = out or settings.site_dir
    out.mkdir(parents=True, exist_ok=True)
    env = _env(settings.home / "cache" / "templates")
    th = templates_hash()
    w = Writer(out, full)
    # what every page depends on: templates and the panel's names (a page's own inputs follow it)
    site_fp = hashlib.sha256(repr([th, [(p.id, p.name) for p in personas]]).encode()).hexdigest()[:12]
    with store.connect() as con:  # one short read of the warehouse, closed before any page is rendered
        data = load_site_data(con, personas, stale_run_minutes=settings.flows.stale_run_minutes)
        tools = data.tools
        listings = sorted(tools.values(), key=lambda t: t.slug)
        pairs, w.report.warnings = comparison_pairs(data, settings.publish.pairs)
        pair_meta = [{"a": a, "b": b, "path": f"{a}-vs-{b}.html", "title": f"{tools[a].name} vs {tools[b].name}",
                      "category": tools[a].category if tools[a].category == tools[b].category else None}
                     for a, b in pairs]
        pair_links: dict[str, list[dict]] = {}
        for m in pair_meta:
            pair_links.setdefault(m["a"], []).append(m)
            pair_links.setdefault(m["b"], []).append(m)
        tool_fp = {t.slug: site_fp + t.fp + "|".join(m["path"] for m in pair_links.get(t.slug, ())) for t in listings}
        pair_fp = {m["path"]: site_fp + tools[m["a"]].fp + tools[m["b"]].fp for m in pair_meta}
        rows = cached_rows(w, th, listings)
        # Only the tools whose own page, a comparison page or an index row is rendered are loaded in full.
        wanted = {t.slug for t in listings if w.needs(f"tools/{t.slug}.html", tool_fp[t.slug]) or t.slug not in rows}
        for m in pair_meta:
            if w.needs(f"compare/{m['path']}", pair_fp[m["path"]]):
                wanted.update((m["a"], m["b"]))
        pages = load_pages(con, tools, sorted(wanted))

    def render(name: str, root: str, **ctx) -> str:
        return env.get_template(name).render(root=root, personas=personas, **ctx)

    # "What changed since the last verdict": a function of the last two verdict ids (in the page fingerprint).
    changed = explain_pairs(store, [(p.history[-2].verdict_id, p.history[-1].verdict_id) for p in pages.values()
                                    if len(p.history) > 1], personas)

    w.page("style.css", [th], lambda: STYLESHEET.read_bytes())
    for t in listings:
        links = pair_links.get(t.slug, [])
        w.page(f"tools/{t.slug}.html", tool_fp[t.slug],
               lambda p=pages.get(t.slug), links=links: render(
                   "tool.html.j2", "../", p=p, chart=chart_svg(p) if p.history else "", comparisons=links,
                   category_slug=slugify(p.tool.category or "uncategorised"),
                   change=changed.get(p.history[-1].verdict_id) if p.history else None))
    for m in pair_meta:
        w.page(f"compare/{m['path']}", pair_fp[m["path"]],
               lambda m=m: _render_compare(render, pages[m["a"]], pages[m["b"]], personas))
    w.page("compare/index.html", [th, [(m["path"], m["title"], m["category"]) for m in pair_meta]],
           lambda: render("compare_index.html.j2", "../", pairs=pair_meta))
    index_pages(w, env, render, listings, pages, rows, th)
    w.page("personas/index.html", None, lambda: render("personas.html.j2", "../"))
    for persona in personas:
        w.page(f"personas/{persona.id}.html", None, lambda persona=persona: render(
            "persona.html.j2", "../", persona=persona, stats=data.persona_stats.get(persona.id, NO_STATS),
            recent=data.persona_recent.get(persona.id, [])))
    events = events_of(data)
    feed_fp = [th, base, [(e["id"], e["name"], e["tagline"]) for e in events[:FEED_ITEMS]]]
    w.page("feed.xml", feed_fp, lambda: rss(events[:FEED_ITEMS], base))
    w.page("feed.json", feed_fp, lambda: json_feed(events[:FEED_ITEMS], base))
    digest(w, env, events, base, th, why=lambda pairs: explain_pairs(store, pairs, personas))
    waiting = [t.slug for t in listings if t.editor_wait]
    return w.finish().as_dict() | {"base_url": base, "awaiting_editor": waiting}


def _render_compare(render, a: ToolPage, b: ToolPage, personas) -> str:
    cmp = None
    if a.verdict and b.verdict:
        ids = [p.id for p in personas]
        cmp = compare(a.verdict, b.verdict, list(a.takes.values()), list(b.takes.values()), ids,
                      names=(a.tool.name, b.tool.name))
    missing = [p.tool.name for p in (a, b) if p.verdict is None]
    return render("compare.html.j2", "../", a=a, b=b, cmp=cmp, missing=missing)
