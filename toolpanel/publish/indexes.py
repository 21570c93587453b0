"""Index pages: the latest-verdict tables (sorted variants, per category, per verdict) built from
table rows cached by each tool's fingerprint."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import jinja2
from markupsafe import Markup

from toolpanel.publish.data import ToolPage
from toolpanel.publish.writer import Writer
from toolpanel.text import slugify

EPOCH = dt.datetime(1970, 1, 1)
SORTS = [("index.html", "Latest",
          lambda p: (-((p.reviewed_at - EPOCH).total_seconds() if p.reviewed_at else 0), p.tool.slug)),
         ("index-ship.html", "Panel ship %", lambda p: (-(p.verdict.ship_pct or 0) if p.verdict else 1, p.tool.slug)),
         ("index-score.html", "Mean score", lambda p: (-(p.verdict.mean_score or 0) if p.verdict else 1, p.tool.slug)),
         ("index-name.html", "Name", lambda p: (p.tool.name.lower(), p.tool.slug))]


ROWS_CACHE = ".rows.json"


def index_pages(w: Writer, env: jinja2.Environment, render, pages: list[ToolPage], fps: dict[str, str],
                 th: str) -> None:
    """Latest-verdict tables: pre-sorted variants, one page per category and per verdict (all at the root,
    so a tool's table row is one HTML fragment, rendered once and cached by the tool's fingerprint)."""
    cache_path = w.out / ROWS_CACHE
    cache: dict = {}
    if cache_path.is_file() and not w.full:
        try:
            cache = json.loads(cache_path.read_text())
            cache = cache if cache.get("templates") == th else {}
        except ValueError:
            cache = {}
    old_rows = cache.get("rows", {})
    row_tpl = env.get_template("row.html.j2")
    rows_html: dict[str, str] = {}
    rendered = 0
    for p in pages:
        hit = old_rows.get(p.tool.slug)
        if hit and hit[0] == fps[p.tool.slug]:
            rows_html[p.tool.slug] = hit[1]
        else:
            rows_html[p.tool.slug] = row_tpl.render(p=p)
            rendered += 1
    if rendered or len(old_rows) != len(rows_html):
        cache_path.write_text(json.dumps({"templates": th, "rows": {k: [fps[k], v] for k, v in sorted(rows_html.items())}},
                                         ensure_ascii=False))

    def ids(rows: list[ToolPage]) -> str:
        # a digest of the ordered row fingerprints: cheaper to fingerprint than the 10k-item list itself
        return hashlib.sha256("\n".join(fps[p.tool.slug] for p in rows).encode()).hexdigest()

    def table(rows: list[ToolPage]) -> Markup:
        return Markup("".join(rows_html[p.tool.slug] for p in rows))

    cats: dict[str, dict] = {}
    by_cat: dict[str, list[ToolPage]] = {}
    # newest first, ties by slug (pages come sorted by slug; a reversed sort keeps ties in order): the same
    # order as SORTS[0]'s key without its datetime arithmetic for every page
    latest = sorted(pages, key=lambda p: p.reviewed_at or EPOCH, reverse=True)
    for p in latest:
        name = p.tool.category or "Uncategorised"
        slug = slugify(name) or "uncategorised"
        c = cats.setdefault(slug, {"slug": slug, "name": name, "count": 0})
        c["count"] += 1
        by_cat.setdefault(slug, []).append(p)
    categories = sorted(cats.values(), key=lambda c: c["name"].lower())
    common = {"categories": categories}
    cat_fp = hashlib.sha256(repr([(c["slug"], c["name"], c["count"]) for c in categories]).encode()).hexdigest()
    for path, label, key in SORTS:
        sorts = [{"path": p, "label": lbl, "current": p == path} for p, lbl, _ in SORTS]
        rows = latest if path == SORTS[0][0] else sorted(pages, key=key)
        w.page(path, [th, path, cat_fp, ids(rows)],
               lambda rows=rows, sorts=sorts: render(
                   "index.html.j2", "", heading="Latest panel verdicts", rows_html=table(rows), sorts=sorts,
                   current_category=None, current_verdict=None, **common))
    for c in categories:
        rows = by_cat[c["slug"]]
        w.page(f"category-{c['slug']}.html", [th, c["slug"], cat_fp, ids(rows)],
               lambda rows=rows, c=c: render(
                   "index.html.j2", "", heading=f"{c['name']}: panel verdicts", rows_html=table(rows), sorts=[],
                   current_category=c["slug"], current_verdict=None, **common))
    for v, heading in (("ship", "Ship verdicts"), ("skip", "Skip verdicts"), ("pending", "No verdict yet")):
        rows = [p for p in latest if (p.verdict.verdict if p.verdict else "pending") == v]
        w.page(f"verdict-{v}.html", [th, v, cat_fp, ids(rows)],
               lambda rows=rows, v=v, heading=heading: render(
                   "index.html.j2", "", heading=heading, rows_html=table(rows), sorts=[], current_category=None,
                   current_verdict=v, **common))
