"""Everything the site shows, read from the warehouse in a few bulk queries (no per-page queries): a light
listing of every tool, and the full page data only of the tools whose pages are rendered."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from scoring.band import stored_label
from toolpanel.models import Persona, Take, Tool, Verdict, panel_label
from toolpanel.summaries import PanelSummary
from toolpanel.publish.render import AWAITING
from toolpanel.models import Finding
from toolpanel.screening.rules import neutralise
from toolpanel.queue.views import STALE_RUN_MINUTES, open_run_cutoff
from warehouse.rows import TAKE_COLUMNS, _take, _tool


@dataclass
class HistoryPoint:
    verdict_id: str
    at: dt.datetime
    verdict: str
    ship_count: int
    skip_count: int
    ship_pct: float | None
    mean_score: float | None
    spread: int | None
    split_panel: bool
    trigger: str
    reason: str | None
    band: str | None = None  # the confidence band's label (scoring/band.py), as stored with the verdict

    @property
    def label(self) -> str:
        return panel_label(self.verdict, self.ship_count, self.skip_count)


@dataclass
class ToolPage:
    tool: Tool
    snapshot_hash: str
    verdict: Verdict | None            # the latest complete verdict, as stored with its run
    takes: dict[str, Take]             # persona id -> take behind that verdict (filled by load_pages)
    reviewed_at: dt.datetime | None
    models: list[str]                  # filled by load_pages
    in_progress: bool                  # a run is open and fresh (Listing.in_progress)
    history: list[HistoryPoint]
    community: dict | None             # {"ship_votes", "skip_votes", "votes", "ship_pct"}
    # "awaiting": nothing published yet, a verdict waits for (or was turned down by) an editor;
    # "newer": a newer verdict than the one shown waits for an editor; None: nothing waits
    editor_wait: str | None = None
    # Screening found vendor text addressed to the panel: `tool` is the neutralised copy (issue 13).
    vendor_text_removed: bool = False
    notice: str | None = None          # the page's one status notice (page_notice)
    # persona id -> when the review it was carried from ran: a partial re-review did not ask it again
    carried: dict[str, dt.datetime] = field(default_factory=dict)
    band: str | None = None  # the published verdict's confidence band label
    summary: PanelSummary | None = None  # its panel summary, when the chair's passed every check


@dataclass(slots=True)
class Listing:
    """A tool as the site's shared pages see it (index order, comparison pairs, feeds, persona pages),
    read for every tool without its text or takes. `fp` fingerprints everything the tool's own page and
    its index row show: a tool whose `fp` is unchanged need not be loaded at all."""
    slug: str
    name: str
    category: str | None
    tagline: str | None
    reviewed_at: dt.datetime | None
    verdict: str | None                # "ship"/"skip" of the published verdict; None: none published
    ship_pct: float | None
    mean_score: float | None
    # a verdict is published and a run of the tool is open, started less than [flows] stale_run_minutes ago
    # (a run open longer is dead; a run that ended without a verdict is not in progress either)
    in_progress: bool
    editor_wait: str | None            # as ToolPage.editor_wait
    screened: bool                     # screening held vendor text: name and tagline are the neutralised ones
    history: list[HistoryPoint]
    fp: str

    @property
    def notice(self) -> str | None:
        return page_notice(self.editor_wait, self.in_progress)


NOTICE_AWAITING = (f"{AWAITING}: the panel has reviewed this tool, and an editor checks the verdict before it is "
                   "published.")
NOTICE_NEWER = "A newer review waits for an editor; this is the published verdict."
NOTICE_IN_PROGRESS = "A re-review is in progress; this is the previous complete verdict."


def page_notice(editor_wait: str | None, in_progress: bool) -> str | None:
    """A tool page's one status notice, the most important that applies: nothing published yet and a verdict
    awaits an editor > a newer review waits for an editor > a re-review is in progress (None: nothing to say)."""
    if editor_wait == "awaiting":
        return NOTICE_AWAITING
    if editor_wait == "newer":
        return NOTICE_NEWER
    return NOTICE_IN_PROGRESS if in_progress else None


@dataclass
class SiteData:
    tools: dict[str, Listing]
    personas: list[Persona]
    persona_stats: dict[str, dict]
    persona_recent: dict[str, list[tuple[Take, Listing]]] = field(default_factory=dict)


def _in(column: str, values: list[str]) -> str:
    """A filter on `column` for `values` (passed as the query's parameter). DuckDB pushes `list_contains`
    below the views' windows, which is quick for a republish's few tools but compares each row with the
    whole list; for long lists an IN subquery (a hash join) is the quicker."""
    return f"list_contains(?::VARCHAR[], {column})" if len(values) <= 64 else f"{column} IN (SELECT unnest(?::VARCHAR[]))"


# Screened vendor text readers never see (the page shows the neutralised copy, marked): what a precise rule
# holds as addressed to the panel, and whatever screening flagged on a card whose panel it steered.
SHOWN_REMOVED = ("layer = 'screening' AND (severity = 'hold' OR (slug, snapshot_hash) IN "
                 "(SELECT slug, snapshot_hash FROM findings WHERE rule = 'steered'))")


# One row per tool: what the shared pages need, and a fingerprint of every input of the tool's own page
# (its snapshot, whether a run is open and younger than the cutoff -- so a run going stale changes it too --,
# the published history and so the published verdict and its takes, community votes, editor holds,
# screening findings), computed in the warehouse so that unchanged tools cost no Python.
_LISTINGS = f"""
WITH runs AS (SELECT DISTINCT slug, true AS open FROM run_history WHERE status = 'running' AND started_at > ?),
     -- a set digest: published verdicts never change, and their order is their creation time
     hist AS (SELECT slug, sum(hash(verdict_id, trigger, reason)) AS h, count(*) AS n
              FROM published_history GROUP BY slug),
     held AS (SELECT DISTINCT slug FROM held_verdicts),
     decided AS (SELECT DISTINCT slug FROM verdicts),
     found AS (SELECT slug, snapshot_hash, list(DISTINCT (field, span, rule) ORDER BY (field, span, rule)) AS f
               FROM findings WHERE {SHOWN_REMOVED} GROUP BY slug, snapshot_hash)
SELECT s.slug, s.name, s.category, s.tagline, runs.open IS NOT NULL, held.slug IS NOT NULL, decided.slug IS NOT NULL,
       found.slug IS NOT NULL,
       left(md5(row(s.snapshot_hash, s.name, s.source, runs.open IS NOT NULL, hist.h, hist.n, c.ship_votes,
                     c.skip_votes, held.slug IS NOT NULL, decided.slug IS NOT NULL, found.f)::VARCHAR), 16)
FROM latest_snapshot s
LEFT JOIN runs USING (slug) LEFT JOIN hist USING (slug) LEFT JOIN held USING (slug)
LEFT JOIN decided USING (slug) LEFT JOIN community_tally c USING (slug)
LEFT JOIN found ON found.slug = s.slug AND found.snapshot_hash = s.snapshot_hash
ORDER BY s.slug"""


def load_site_data(con, personas: list[Persona], recent_per_persona: int = 12,
                   stale_run_minutes: int = STALE_RUN_MINUTES) -> SiteData:
    """Every tool's listing, its published history, and persona stats; a page's text and takes are loaded
    only for the pages rendered (load_pages). Only what `published_verdicts` / `published_history` say is
    published reaches a page; held verdicts show up only as "awaiting editor check" / "a newer review waits
    for an editor". A run open longer than `stale_run_minutes` is not "in progress"; a page has at most one
    notice (page_notice)."""
    rows = con.execute(_LISTINGS, [open_run_cutoff(stale_run_minutes)]).fetchall()
    history = defaultdict(list)
    for r in con.execute("SELECT slug, verdict_id, created_at, verdict, ship_count, skip_count, ship_pct, "
                         "mean_score, spread, split_panel, trigger, reason, band_label, abstain_count, failed_count "
                         "FROM published_history ORDER BY slug, created_at, verdict_id").fetchall():
        history[r[0]].append(HistoryPoint(*r[1:12], band=stored_label(r[12], r[4], r[5], r[13], r[14], r[8], r[9])))
    screened = _tools(con, [r[0] for r in rows if r[7]])
    # persona pages: only takes behind published verdicts (a held verdict's takes wait with it)
    shown = "(SELECT DISTINCT unnest(take_ids) FROM published_history)"
    cur = con.execute(
        "SELECT persona_id, count(*) FILTER (WHERE status = 'ok') AS ok, "
        "count(*) FILTER (WHERE status = 'abstained') AS abstained, "
        "round(100.0 * count(*) FILTER (WHERE verdict = 'ship' AND status = 'ok') "
        "/ nullif(count(*) FILTER (WHERE status = 'ok'), 0), 1) AS ship_rate_pct, "
        "round(avg(score) FILTER (WHERE status = 'ok'), 1) AS mean_score, "
        # the same grounded share as the persona_stats view (m012), over published takes only
        "round(100.0 * count(*) FILTER (WHERE status = 'ok' AND len(evidence) > 0 "
        "AND NOT list_contains(coalesce(flags, []), 'ungrounded')) "
        "/ nullif(count(*) FILTER (WHERE status = 'ok' AND evidence IS NOT NULL), 0), 1) AS grounded_pct "
        f"FROM takes WHERE take_id IN {shown} "
        "GROUP BY persona_id")
    cols = [d[0] for d in cur.description]
    stats = {r[0]: dict(zip(cols, r)) for r in cur.fetchall()}
    # the newest takes per persona picked on narrow columns, then only their wide rows read
    recent_rows = con.execute(
        f"SELECT {', '.join(TAKE_COLUMNS)} FROM takes WHERE take_id IN (SELECT take_id FROM (SELECT take_id, "
        "row_number() OVER (PARTITION BY persona_id ORDER BY created_at DESC, take_id DESC) AS rn FROM takes "
        f"WHERE status = 'ok' AND take_id IN {shown}) WHERE rn <= ?) "
        "ORDER BY persona_id, created_at DESC, take_id DESC", [recent_per_persona]).fetchall()

    listings: dict[str, Listing] = {}
    for slug, name, category, tagline, running, held, decided, found, fp in rows:
        if found:
            name, tagline = screened[slug][0].name, screened[slug][0].tagline
        points = history.get(slug, [])
        # the published verdict (published_verdicts) is the last point of the published history
        last = points[-1] if points else None
        verdict = last and last.verdict
        listings[slug] = Listing(
            slug=slug, name=name, category=category, tagline=tagline, reviewed_at=last and last.at,
            verdict=verdict, ship_pct=last and last.ship_pct, mean_score=last and last.mean_score,
            in_progress=verdict is not None and running,
            editor_wait=("newer" if held else None) if verdict else ("awaiting" if held or decided else None),
            screened=found, history=points, fp=fp)
    recent: dict[str, list] = defaultdict(list)
    for row in recent_rows:
        t = _take(row)
        if t.tool_slug in listings:
            recent[t.persona_id].append((t, listings[t.tool_slug]))
    return SiteData(tools=listings, personas=personas, persona_stats=stats, persona_recent=dict(recent))


def _tools(con, slugs: list[str]) -> dict[str, tuple[Tool, str]]:
    """These tools' latest snapshots and their hashes, neutralised where screening held vendor text
    addressed to the panel."""
    if not slugs:
        return {}
    cur = con.execute(f"SELECT * FROM latest_snapshot WHERE {_in('slug', slugs)}", [slugs])
    cols = [d[0] for d in cur.description]
    snaps = [dict(zip(cols, r)) for r in cur.fetchall()]
    addressed = defaultdict(list)  # (slug, snapshot) -> screening findings that hold
    for slug, snapshot, name, span, rule in con.execute(
            "SELECT DISTINCT slug, snapshot_hash, field, span, rule FROM findings "
            f"WHERE {SHOWN_REMOVED} AND {_in('slug', slugs)}", [slugs]).fetchall():
        addressed[(slug, snapshot)].append(Finding(field=name, span=span, rule=rule))
    out = {}
    for row in snaps:
        found = addressed.get((row["slug"], row["snapshot_hash"]))
        out[row["slug"]] = (neutralise(_tool(row), found) if found else _tool(row), row["snapshot_hash"])
    return out


def load_pages(con, listings: dict[str, Listing], slugs: list[str]) -> dict[str, ToolPage]:
    """Everything the pages of these tools show: text, published verdict, the takes behind it, votes."""
    if not slugs:
        return {}
    # a published verdict is the last point of the published history
    ids = [listings[s].history[-1].verdict_id for s in slugs if listings[s].verdict is not None]
    tools = _tools(con, slugs)
    cur = con.execute(
        "SELECT slug, verdict, ship_count, skip_count, abstain_count, failed_count, ship_pct, mean_score, "
        f"median_score, spread, split_panel, take_ids, band_label FROM verdicts WHERE {_in('verdict_id', ids)}", [ids])
    cols = [d[0] for d in cur.description]
    latest = {r[0]: dict(zip(cols, r)) for r in cur.fetchall()}
    cur = con.execute(f"SELECT * FROM community_tally WHERE {_in('slug', slugs)}", [slugs])
    cols = [d[0] for d in cur.description]
    community = {r[0]: dict(zip(cols, r)) for r in cur.fetchall()}
    take_ids = [i for v in latest.values() for i in v["take_ids"]]
    takes: dict[str, list[Take]] = defaultdict(list)
    for row in con.execute(f"SELECT {', '.join(TAKE_COLUMNS)} FROM takes WHERE {_in('take_id', take_ids)}",
                           [take_ids]).fetchall():
        t = _take(row)
        takes[t.tool_slug].append(t)
    # the chair's summaries of these verdicts that passed every check (a failed one is not shown)
    summaries = {slug: PanelSummary.model_validate_json(js) for slug, js in con.execute(
        f"SELECT slug, summary FROM panel_summaries WHERE status = 'ok' AND {_in('verdict_id', ids)}", [ids]).fetchall()}
    carried: dict[str, dict[str, dt.datetime]] = defaultdict(dict)
    for slug, persona, at in con.execute(
            "SELECT v.slug, c.persona_id, r.started_at FROM verdicts v JOIN carried_takes c USING (run_id) "
            f"JOIN runs r ON r.run_id = c.from_run_id WHERE {_in('v.verdict_id', ids)}", [ids]).fetchall():
        carried[slug][persona] = at
    pages = {}
    for slug in slugs:
        listing, v = listings[slug], latest.get(slug)
        # The stored verdict is scoring.verdict's output at write time; no need to recompute it.
        verdict = v and Verdict(tool_slug=slug, ship_count=v["ship_count"], skip_count=v["skip_count"],
                                abstain_count=v["abstain_count"], failed_count=v["failed_count"],
                                ship_pct=v["ship_pct"], verdict=v["verdict"], mean_score=v["mean_score"],
                                median_score=v["median_score"], spread=v["spread"], split_panel=v["split_panel"],
                                quorum_met=True, take_ids=sorted(v["take_ids"]))
        shown = takes.get(slug, []) if verdict else []
        tool, snapshot = tools[slug]
        pages[slug] = ToolPage(
            tool=tool, snapshot_hash=snapshot, verdict=verdict, takes={t.persona_id: t for t in shown},
            reviewed_at=listing.reviewed_at, models=sorted({t.model for t in shown}), in_progress=listing.in_progress,
            history=listing.history, community=community.get(slug), editor_wait=listing.editor_wait,
            vendor_text_removed=listing.screened, notice=listing.notice, carried=carried.get(slug, {}),
            band=v and stored_label(v["band_label"], v["ship_count"], v["skip_count"], v["abstain_count"],
                                    v["failed_count"], v["spread"], v["split_panel"]),
            summary=summaries.get(slug) if verdict else None)
    return pages
