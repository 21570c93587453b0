"""Render the static site from the warehouse: deterministic, escaped, incremental."""

from __future__ import annotations

import contextlib
import gc
import hashlib
import itertools
from pathlib import Path

from toolpanel.config import Settings
from toolpanel.panel.personas import load_personas
from toolpanel.publish.data import Listing, SiteData, load_pages, load_site_data
from toolpanel.publish.feeds import events_of
from toolpanel.publish.indexes import cached_rows
from toolpanel.publish.pages import Site, page_types
from toolpanel.publish.render import env as _env, templates_hash
from toolpanel.publish.writer import Writer
from warehouse.store import Warehouse
from warehouse.changes import explain_pairs
from warehouse.pairs import published_answers
from toolpanel.errors import ToolpanelError


AUTO_PAIRS_PER_CATEGORY = 6  # the N most recently reviewed tools of a category are compared pairwise


class PublishError(ToolpanelError):
    """The site cannot be published yet (no warehouse): exit 1."""


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


def pair_pages(tools: dict[str, Listing], pairs: list[tuple[str, str]]) -> list[dict]:
    """A comparison page per pair: a, b, path (under compare/), title, category (when both share one)."""
    return [{"a": a, "b": b, "path": f"{a}-vs-{b}.html", "title": f"{tools[a].name} vs {tools[b].name}",
             "category": tools[a].category if tools[a].category == tools[b].category else None} for a, b in pairs]


def _answers(pair_meta: list[dict], tools: dict[str, Listing], stored: dict) -> dict:
    """Comparison page path -> the chair's answer for the two verdicts the page shows (none: not written yet)."""
    out = {}
    for m in pair_meta:
        a, b = tools[m["a"]], tools[m["b"]]
        if a.verdict is not None and b.verdict is not None:
            rec = stored.get(frozenset((a.history[-1].verdict_id, b.history[-1].verdict_id)))
            if rec is not None:
                out[m["path"]] = rec
    return out


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


def refresh(settings: Settings) -> dict:
    """After the warehouse changed (reviews, decisions): the analyst snapshot, then the site (incremental).
    The one snapshot-and-publish of the CLI, the flows and the review queue."""
    Warehouse(settings.warehouse_path).publish_snapshot(settings.snapshot_path)
    return publish_site(settings)


def _publish(settings: Settings, full: bool, out: Path | None) -> dict:
    store = Warehouse(settings.warehouse_path)
    if not settings.warehouse_path.exists():
        raise PublishError(f"{settings.warehouse_path}: no warehouse yet — review some tools first "
                           "(toolpanel review examples/tools)")
    personas = load_personas(settings.personas_dir)
    out = out or settings.site_dir
    out.mkdir(parents=True, exist_ok=True)
    env = _env(settings.home / "cache" / "templates")
    th = templates_hash()
    w = Writer(out, full)
    # what every page depends on: templates, the panel's names and the signup block's target (a page's own
    # inputs follow it)
    site_fp = hashlib.sha256(repr([th, [(p.id, p.name) for p in personas],
                                   settings.newsletter.signup_url]).encode()).hexdigest()[:12]
    with store.connect() as con:  # one short read of the warehouse, closed before any page is rendered
        data = load_site_data(con, personas, stale_run_minutes=settings.flows.stale_run_minutes)
        tools = data.tools
        listings = sorted(tools.values(), key=lambda t: t.slug)
        pairs, w.report.warnings = comparison_pairs(data, settings.publish.pairs)
        pair_meta = pair_pages(tools, pairs)
        pair_links: dict[str, list[dict]] = {}
        for m in pair_meta:
            pair_links.setdefault(m["a"], []).append(m)
            pair_links.setdefault(m["b"], []).append(m)
        tool_fp = {t.slug: site_fp + t.fp + "|".join(m["path"] for m in pair_links.get(t.slug, ())) for t in listings}
        answers = _answers(pair_meta, tools, published_answers(con))
        pair_fp = {m["path"]: site_fp + tools[m["a"]].fp + tools[m["b"]].fp
                   + (answers[m["path"]].call_id if m["path"] in answers else "") for m in pair_meta}
        rows = cached_rows(w, th, listings)
        # Only the tools whose own page, a comparison page or an index row is rendered are loaded in full.
        wanted = {t.slug for t in listings if w.needs(f"tools/{t.slug}.html", tool_fp[t.slug]) or t.slug not in rows}
        for m in pair_meta:
            if w.needs(f"compare/{m['path']}", pair_fp[m["path"]]):
                wanted.update((m["a"], m["b"]))
        pages = load_pages(con, tools, sorted(wanted))

    # "What changed since the last verdict": a function of the last two verdict ids (in the page fingerprint).
    changed = explain_pairs(store, [(p.history[-2].verdict_id, p.history[-1].verdict_id) for p in pages.values()
                                    if len(p.history) > 1], personas)
    site = Site(settings=settings, w=w, env=env, th=th, personas=personas, data=data, listings=listings, pages=pages,
                rows=rows, pair_meta=pair_meta, pair_links=pair_links, tool_fp=tool_fp, pair_fp=pair_fp,
                changed=changed, why=lambda pairs: explain_pairs(store, pairs, personas), events=events_of(data),
                answers=answers)
    for write in page_types().values():
        write(site)
    waiting = [t.slug for t in listings if t.editor_wait]
    return w.finish().as_dict() | {"base_url": settings.publish.root, "awaiting_editor": waiting}

