"""Index pages: the latest-verdict tables (sorted variants, per category, per verdict) built from
table rows cached by each tool's fingerprint."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import jinja2
from markupsafe import Markup

from toolpanel.publish.data import Listing, ToolPage
from toolpanel.publish.writer import Writer
from toolpanel.text import slugify

EPOCH = dt.datetime(1970, 1, 1)
SORTS = [("index.html", "Latest",
          lambda t: (-((t.reviewed_at - EPOCH).total_seconds() if t.reviewed_at else 0), t.slug)),
         ("index-ship.html", "Panel ship %", lambda t: (-(t.ship_pct or 0) if t.verdict else 1, t.slug)),
         ("index-score.html", "Mean score", lambda t: (-(t.mean_score or 0) if t.verdict else 1, t.slug)),
         ("index-name.html", "Name", lambda t: (t.name.lower(), t.slug))]


ROWS_CACHE = ".rows.json"


def cached_rows(w: Writer, th: str, listings: list[Listing]) -> dict[str, str]:
    """The index table rows of the last publish that are still current: slug -> its row's HTML (a row is
    current when the tool's fingerprint and the templates are those it was rendered with)."""
    path = w.out / ROWS_CACHE
    if w.full or not path.is_file():
        return {}
    try:
        cache = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        return {}
    rows = cache.get("rows") if isinstance(cache, dict) and cache.get("templates") == th else None
    if not isinstance(rows, dict):  # absent, stale or not ours: every row is rendered again
        return {}
    out = {}
    for t in listings:
        hit = rows.get(t.slug)
        if isinstance(hit, list) and len(hit) == 2 and hit[0] == t.fp and isinstance(hit[1], str):
            out[t.slug] = hit[1]
    return out


def index_pages(w: Writer, env: jinja2.Environment, render, listings: list[Listing], pages: dict[str, ToolPage],
                current: dict[str, str], th: str) -> None:
    """Latest-verdict tables: pre-sorted variants, one page per category and per verdict (all at the root,
    so a tool's table row is one HTML fragment, rendered once and cached by the tool's fingerprint; a row
    not `current` (cached_rows) is rendered from its loaded page)."""
    row_tpl = env.get_template("row.html.j2")
    rows_html: dict[str, str] = {}
    rendered = 0
    for t in listings:
        html = current.get(t.slug)
        if html is None:
            html = row_tpl.render(p=pages[t.slug])
            rendered += 1
        rows_html[t.slug] = html
    if rendered or w.full or not (w.out / ROWS_CACHE).is_file():
        (w.out / ROWS_CACHE).write_text(json.dumps(
            {"templates": th, "rows": {t.slug: [t.fp, rows_html[t.slug]] for t in listings}}, ensure_ascii=False),
            encoding="utf-8")

    def ids(rows: list[Listing]) -> str:
        # a digest of the ordered row fingerprints: cheaper to fingerprint than the 10k-item list itself
        return hashlib.sha256("\n".join(t.fp for t in rows).encode()).hexdigest()

    def table(rows: list[Listing]) -> Markup:
        return Markup("".join(rows_html[t.slug] for t in rows))

    cats: dict[str, dict] = {}
    by_cat: dict[str, list[Listing]] = {}
    # newest first, ties by slug (pages come sorted by slug; a reversed sort keeps ties in order): the same
    # order as SORTS[0]'s key without its datetime arithmetic for every page
    latest = sorted(listings, key=lambda t: t.reviewed_at or EPOCH, reverse=True)
    slugs: dict[str, str] = {}  # a category's name -> its slug (10k tools, a few hundred categories)
    for t in latest:
        name = t.category or "Uncategorised"
        slug = slugs.get(name) or slugs.setdefault(name, slugify(name) or "uncategorised")
        c = cats.setdefault(slug, {"slug": slug, "name": name, "count": 0})
        c["count"] += 1
        by_cat.setdefault(slug, []).append(t)
    categories = sorted(cats.values(), key=lambda c: c["name"].lower())
    common = {"categories": categories}
    cat_fp = hashlib.sha256(repr([(c["slug"], c["name"], c["count"]) for c in categories]).encode()).hexdigest()
    for path, label, key in SORTS:
        sorts = [{"path": p, "label": lbl, "current": p == path} for p, lbl, _ in SORTS]
        rows = latest if path == SORTS[0][0] else sorted(listings, key=key)
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
        rows = [t for t in latest if (t.verdict or "pending") == v]
        w.page(f"verdict-{v}.html", [th, v, cat_fp, ids(rows)],
               lambda rows=rows, v=v, heading=heading: render(
                   "index.html.j2", "", heading=heading, rows_html=table(rows), sorts=[], current_category=None,
                   current_verdict=v, **common))
