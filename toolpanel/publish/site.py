"""Render the static site from the warehouse: deterministic, escaped, incremental."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import jinja2
from markupsafe import Markup

from scoring import compare
from toolpanel import flags as take_flags
from toolpanel import scorecard
from toolpanel.changes import detail_lines
from toolpanel.config import Settings
from toolpanel.personas import load_personas
from toolpanel.publish.data import SiteData, ToolPage, fill_takes, load_site_data
from toolpanel.text import slugify
from warehouse import Warehouse
from warehouse.changes import explain_pairs

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STYLESHEET = HERE / "style.css"
MANIFEST = ".manifest.json"
AUTO_PAIRS_PER_CATEGORY = 6  # the N most recently reviewed tools of a category are compared pairwise
FEED_ITEMS = 50
NO_STATS = {"ok": 0, "abstained": 0, "ship_rate_pct": None, "mean_score": None, "grounded_pct": None}  # nothing published yet
AWAITING = "Awaiting editor check"


class PublishError(Exception):
    pass


def safe_url(url: str | None) -> str:
    """Only http(s) links reach a page; anything else (javascript:, data:, ...) becomes '#'."""
    if not url:
        return "#"
    parsed = urlparse(url.strip())
    return url.strip() if parsed.scheme in ("http", "https") and parsed.netloc else "#"


def _host(url: str | None) -> str:
    return urlparse(url or "").netloc or ""


def _date(value) -> str:
    return value.strftime("%Y-%m-%d") if isinstance(value, (dt.date, dt.datetime)) else str(value)


def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters.update(safe_url=safe_url, host=_host, date=_date)
    env.globals.update(awaiting=AWAITING, verdict_label=scorecard.verdict_label, ship_pct=scorecard.ship_pct_label,
                       pct=scorecard.pct, change_lines=detail_lines, shown_flags=take_flags.shown,
                       flag_label=take_flags.label, flag_title=take_flags.title)
    return env


def _templates_hash() -> str:
    h = hashlib.sha256()
    for f in sorted(TEMPLATES.glob("*.j2")) + [STYLESHEET]:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def chart_svg(page: ToolPage) -> str:
    """Inline SVG of mean score and panel ship % over runs (numbers only: nothing to escape)."""
    pts = page.history
    w, h, pad = 560, 180, 32
    n = len(pts)
    xs = [pad + (w - 2 * pad) * (i / (n - 1) if n > 1 else 0.5) for i in range(n)]

    def y(v: float) -> float:
        return h - pad - (h - 2 * pad) * (v / 100)

    def series(values, cls):
        coords = [(x, y(v)) for x, v in zip(xs, values) if v is not None]
        line = (f'<polyline class="{cls}" points="{" ".join(f"{x:.1f},{yy:.1f}" for x, yy in coords)}"/>'
                if len(coords) > 1 else "")
        dots = "".join(f'<circle class="dot-{cls}" cx="{x:.1f}" cy="{yy:.1f}" r="3.5"/>' for x, yy in coords)
        return line + dots

    last = pts[-1]
    desc = (f"{n} verdict{'s' if n != 1 else ''}; latest mean score "
            f"{'n/a' if last.mean_score is None else f'{last.mean_score:g}'}, panel ship {scorecard.pct(last.ship_pct)}")
    grid = "".join(f'<line class="axis" x1="{pad}" x2="{w - pad}" y1="{y(v):.1f}" y2="{y(v):.1f}"/>'
                   f'<text x="4" y="{y(v) + 4:.1f}">{v}</text>' for v in (0, 50, 100))
    return (f'<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-labelledby="chart-title chart-desc" '
            f'xmlns="http://www.w3.org/2000/svg"><title id="chart-title">Mean score (solid) and panel ship % '
            f'(dashed) over reviews</title><desc id="chart-desc">{desc}</desc>{grid}'
            f'{series([p.mean_score for p in pts], "score")}{series([p.ship_pct for p in pts], "ship")}</svg>')


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
    by_cat: dict[str, list[ToolPage]] = {}
    for p in data.tools.values():
        if p.verdict is not None and p.tool.category:
            by_cat.setdefault(p.tool.category, []).append(p)
    for cat in sorted(by_cat):
        recent = sorted(by_cat[cat], key=lambda p: (p.reviewed_at, p.tool.slug), reverse=True)[:AUTO_PAIRS_PER_CATEGORY]
        for a, b in itertools.combinations(sorted(p.tool.slug for p in recent), 2):
            if frozenset((a, b)) not in seen:
                seen.add(frozenset((a, b)))
                pairs.append((a, b))
    return pairs, warnings


def _page_fp(p: ToolPage) -> list:
    return [p.snapshot_hash, p.tool.name, p.tool.slug, p.tool.source, p.verdict.take_ids if p.verdict else [],
            str(p.reviewed_at), p.in_progress, [(h.verdict_id, h.trigger, h.reason) for h in p.history],
            p.community and {k: p.community[k] for k in ("ship_votes", "skip_votes")}, p.editor_wait, p.vendor_text_removed]


@dataclass
class Report:
    pages: int = 0
    written: int = 0
    skipped: int = 0
    removed: int = 0
    site: str = ""
    warnings: list[str] | None = None

    def as_dict(self) -> dict:
        return {"pages": self.pages, "written": self.written, "skipped": self.skipped, "removed": self.removed,
                "site": self.site, "warnings": self.warnings or [], "base_url": ""}


class _Writer:
    """Writes pages whose inputs changed; remembers input hashes in a manifest."""

    def __init__(self, out: Path, full: bool):
        self.out = out
        self.full = full
        self.old: dict[str, str] = {}
        path = out / MANIFEST
        if path.is_file() and not full:
            try:
                self.old = json.loads(path.read_text())
            except ValueError:
                self.old = {}
        self.new: dict[str, str] = {}
        self.report = Report(site=str(out))
        root = str(out)
        self.existing = {(d[len(root) + 1:] + "/" + f) if d != root else f for d, _, files in os.walk(root) for f in files}

    def _fp(self, rel: str, fingerprint: object) -> str:
        fp = self.new.get(rel)
        if fp is None:
            # repr of nested lists/tuples of str/int/None is deterministic and much cheaper than JSON
            fp = self.new[rel] = hashlib.sha256(repr(fingerprint).encode()).hexdigest()[:16]
        return fp

    def needs(self, rel: str, fingerprint: object) -> bool:
        fp = self._fp(rel, fingerprint)  # always recorded: the manifest must hold every page
        return self.full or self.old.get(rel) != fp or rel not in self.existing

    def page(self, rel: str, fingerprint: object | None, render) -> None:
        """`fingerprint` None: render and compare bytes (aggregate pages); otherwise skip on equal inputs."""
        self.report.pages += 1
        target = self.out / rel
        if fingerprint is not None:
            if not self.needs(rel, fingerprint):
                self.report.skipped += 1
                return
        data = render()
        data = data.encode("utf-8") if isinstance(data, str) else data
        if fingerprint is None:
            self.new[rel] = hashlib.sha256(data).hexdigest()[:16]
            if not self.full and rel in self.existing and self.old.get(rel) == self.new[rel]:
                self.report.skipped += 1
                return
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
        self.report.written += 1

    def finish(self) -> Report:
        for rel in sorted(set(self.old) - set(self.new)):
            (self.out / rel).unlink(missing_ok=True)
            self.report.removed += 1
        (self.out / MANIFEST).write_text(json.dumps(self.new, indent=0, sort_keys=True))
        return self.report


def publish_site(settings: Settings, *, full: bool = False, out: Path | None = None) -> dict:
    """Render the site into TOOLPANEL_HOME/site (or `out`); returns counts written/skipped/removed."""
    store = Warehouse(settings.warehouse_path)
    if not settings.warehouse_path.exists():
        raise PublishError(f"{settings.warehouse_path}: no warehouse yet — review some tools first "
                           "(toolpanel review examples/tools)")
    personas = load_personas(settings.personas_dir)
    data = load_site_data(store, personas)
    cfg = settings.publish
    base = str(cfg.get("base_url", ""))
    if base and not base.endswith("/"):
        base += "/"
    out = out or settings.site_dir
    out.mkdir(parents=True, exist_ok=True)
    env = _env()
    th = _templates_hash()
    w = _Writer(out, full)
    pairs, warnings = comparison_pairs(data, cfg.get("pairs", []))
    w.report.warnings = warnings
    persona_fp = [(p.id, p.name) for p in personas]

    def render(name: str, root: str, **ctx) -> str:
        return env.get_template(name).render(root=root, personas=personas, **ctx)

    pages = sorted(data.tools.values(), key=lambda p: p.tool.slug)
    pair_links: dict[str, list[dict]] = {}
    pair_meta = []
    for a, b in pairs:
        title = f"{data.tools[a].tool.name} vs {data.tools[b].tool.name}"
        meta = {"a": a, "b": b, "path": f"{a}-vs-{b}.html", "title": title,
                "category": data.tools[a].tool.category if data.tools[a].tool.category == data.tools[b].tool.category else None}
        pair_meta.append(meta)
        pair_links.setdefault(a, []).append(meta)
        pair_links.setdefault(b, []).append(meta)

    fps = {p.tool.slug: hashlib.sha256(repr(_page_fp(p)).encode()).hexdigest()[:16] for p in pages}
    tool_fp = {p.tool.slug: [th, persona_fp, fps[p.tool.slug], [m["path"] for m in pair_links.get(p.tool.slug, [])]]
               for p in pages}
    pair_fp = {m["path"]: [th, persona_fp, fps[m["a"]], fps[m["b"]]] for m in pair_meta}
    # Only pages that will be rendered need their takes: one query for all of them.
    wanted = {p.tool.slug for p in pages if w.needs(f"tools/{p.tool.slug}.html", tool_fp[p.tool.slug])}
    for m in pair_meta:
        if w.needs(f"compare/{m['path']}", pair_fp[m["path"]]):
            wanted.update((m["a"], m["b"]))
    fill_takes(store, [data.tools[s] for s in sorted(wanted)])
    # "What changed since the last verdict": a function of the last two verdict ids (in the page fingerprint).
    changed = explain_pairs(store, [(p.history[-2].verdict_id, p.history[-1].verdict_id) for p in pages
                                    if p.tool.slug in wanted and len(p.history) > 1], personas)

    w.page("style.css", [th], lambda: STYLESHEET.read_bytes())
    for p in pages:
        links = pair_links.get(p.tool.slug, [])
        w.page(f"tools/{p.tool.slug}.html", tool_fp[p.tool.slug],
               lambda p=p, links=links: render("tool.html.j2", "../", p=p, chart=chart_svg(p) if p.history else "",
                                               comparisons=links, category_slug=slugify(p.tool.category or "uncategorised"),
                                               change=changed.get(p.history[-1].verdict_id) if p.history else None))
    for m in pair_meta:
        a, b = data.tools[m["a"]], data.tools[m["b"]]
        w.page(f"compare/{m['path']}", pair_fp[m["path"]], lambda a=a, b=b: _render_compare(render, a, b, personas))
    w.page("compare/index.html", [th, [(m["path"], m["title"], m["category"]) for m in pair_meta]],
           lambda: render("compare_index.html.j2", "../", pairs=pair_meta))
    _index_pages(w, env, render, pages, fps, th)
    w.page("personas/index.html", None, lambda: render("personas.html.j2", "../"))
    for persona in personas:
        w.page(f"personas/{persona.id}.html", None, lambda persona=persona: render(
            "persona.html.j2", "../", persona=persona, stats=data.persona_stats.get(persona.id, NO_STATS),
            recent=data.persona_recent.get(persona.id, [])))
    events = _events(data)
    feed_fp = [th, base, [(e["id"], e["name"], e["tagline"]) for e in events[:FEED_ITEMS]]]
    w.page("feed.xml", feed_fp, lambda: _rss(events[:FEED_ITEMS], base))
    w.page("feed.json", feed_fp, lambda: _json_feed(events[:FEED_ITEMS], base))
    _digest(w, env, events, base, fps, th, why=lambda pairs: explain_pairs(store, pairs, personas))
    waiting = sorted(p.tool.slug for p in pages if p.editor_wait)
    return w.finish().as_dict() | {"base_url": base, "awaiting_editor": waiting}


def _render_compare(render, a: ToolPage, b: ToolPage, personas) -> str:
    cmp = None
    if a.verdict and b.verdict:
        ids = [p.id for p in personas]
        cmp = compare(a.verdict, b.verdict, list(a.takes.values()), list(b.takes.values()), ids,
                      names=(a.tool.name, b.tool.name))
    missing = [p.tool.name for p in (a, b) if p.verdict is None]
    return render("compare.html.j2", "../", a=a, b=b, cmp=cmp, missing=missing)


EPOCH = dt.datetime(1970, 1, 1)
SORTS = [("index.html", "Latest",
          lambda p: (-((p.reviewed_at - EPOCH).total_seconds() if p.reviewed_at else 0), p.tool.slug)),
         ("index-ship.html", "Panel ship %", lambda p: (-(p.verdict.ship_pct or 0) if p.verdict else 1, p.tool.slug)),
         ("index-score.html", "Mean score", lambda p: (-(p.verdict.mean_score or 0) if p.verdict else 1, p.tool.slug)),
         ("index-name.html", "Name", lambda p: (p.tool.name.lower(), p.tool.slug))]


ROWS_CACHE = ".rows.json"


def _index_pages(w: _Writer, env: jinja2.Environment, render, pages: list[ToolPage], fps: dict[str, str],
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
    latest = sorted(pages, key=SORTS[0][2])
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


def _events(data: SiteData) -> list[dict]:
    """Every verdict as an event, newest first, with the previous verdict of the same tool."""
    out = []
    for slug, p in data.tools.items():
        prev = None
        for h in p.history:
            out.append({"id": h.verdict_id, "slug": slug, "name": p.tool.name, "at": h.at, "verdict": h.verdict,
                        "label": h.label, "ship": scorecard.pct(h.ship_pct), "spread": h.spread, "split": h.split_panel,
                        "previous": prev and prev.verdict, "previous_id": prev and prev.verdict_id,
                        "tagline": p.tool.tagline, "reason": h.reason})
            prev = h
    out.sort(key=lambda e: (e["at"], e["id"]), reverse=True)
    return out


def _rss(events: list[dict], base: str) -> str:
    from xml.sax.saxutils import escape

    items = []
    for e in events:
        link = f"{base}tools/{e['slug']}.html"
        items.append(
            "<item>"
            f"<title>{escape(e['name'])}: {escape(e['label'])}</title>"
            f"<link>{escape(link)}</link>"
            f"<guid isPermaLink=\"false\">{escape(e['id'])}</guid>"
            f"<pubDate>{e['at'].replace(tzinfo=dt.timezone.utc).strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate>"
            f"<description>{escape('Panel ship ' + e['ship'] + '. ' + (e['tagline'] or ''))}</description>"
            "</item>")
    return ('<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
            f"<title>toolpanel verdicts</title><link>{escape(base + 'index.html')}</link>"
            "<description>Panel verdicts on newly launched AI and developer tools</description>"
            + "".join(items) + "</channel></rss>\n")


def _json_feed(events: list[dict], base: str) -> str:
    feed = {
        "version": "https://jsonfeed.org/version/1.1", "title": "toolpanel verdicts",
        "home_page_url": base + "index.html", "feed_url": base + "feed.json",
        "items": [{"id": e["id"], "url": f"{base}tools/{e['slug']}.html", "title": f"{e['name']}: {e['label']}",
                   "content_text": f"Panel ship {e['ship']}. {e['tagline'] or ''}".strip(),
                   "date_published": e["at"].replace(tzinfo=dt.timezone.utc).isoformat()} for e in events],
    }
    return json.dumps(feed, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def _digest(w: _Writer, env: jinja2.Environment, events: list[dict], base: str, fps: dict[str, str],
            th: str, why=None) -> None:
    """This week's verdicts: the ISO week of the newest verdict (not the clock: same warehouse, same site)."""
    if events:
        y, wk, _ = events[0]["at"].isocalendar()
    else:
        y, wk = 1970, 1
    start = dt.date.fromisocalendar(y, wk, 1)
    end = start + dt.timedelta(days=6)
    week = f"{y}-W{wk:02d}"
    this = [e for e in events if start <= e["at"].date() <= end]
    latest_per_tool: dict[str, dict] = {}
    for e in this:
        latest_per_tool.setdefault(e["slug"], e)
    shown = sorted(latest_per_tool.values(), key=lambda e: (e["name"].lower(), e["slug"]))
    splits = sorted((e for e in shown if e["split"]), key=lambda e: (-(e["spread"] or 0), e["slug"]))[:5]
    changes = [e for e in shown if e["previous"] and e["previous"] != e["verdict"]]
    css = STYLESHEET.read_text()
    ctx = dict(week=week, start=start, end=end, events=shown, splits=splits, changes=changes, email_css=css, why={})
    tpl = env.get_template("digest.html.j2")
    # only what the digest shows: a community vote elsewhere must not re-render it
    fp = [th, base, week, [(e["id"], e["previous"], e["previous_id"], e["name"], e["tagline"]) for e in shown]]

    def render(**kw) -> str:
        if why is not None and changes and not ctx["why"]:  # each changed verdict says why (read once)
            ctx["why"] = {k: c.summary() for k, c in why([(e["previous_id"], e["id"]) for e in changes]).items()}
        return tpl.render(root="../", **kw, **ctx)

    w.page(f"digest/{week}.html", fp + ["web"], lambda: render(base="../", email=False))
    w.page(f"digest/{week}.email.html", fp + ["email"], lambda: render(base=base or "../", email=True))
    w.page("digest/index.html", fp + ["web"], lambda: render(base="../", email=False))
