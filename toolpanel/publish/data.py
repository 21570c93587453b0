"""Everything the site shows, read from the warehouse in a few bulk queries (no per-page queries)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from toolpanel.models import Persona, Take, Tool, Verdict, panel_label
from warehouse import Warehouse
from toolpanel.screening import Finding, neutralise
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

    @property
    def label(self) -> str:
        return panel_label(self.verdict, self.ship_count, self.skip_count)


@dataclass
class ToolPage:
    tool: Tool
    snapshot_hash: str
    verdict: Verdict | None            # the latest complete verdict, as stored with its run
    takes: dict[str, Take]             # persona id -> take behind that verdict (filled by fill_takes)
    reviewed_at: dt.datetime | None
    models: list[str]                  # filled by fill_takes
    in_progress: bool                  # the latest run did not complete: a re-review is under way
    history: list[HistoryPoint]
    community: dict | None             # {"ship_votes", "skip_votes", "votes", "ship_pct"}
    # "awaiting": nothing published yet, a verdict waits for (or was turned down by) an editor;
    # "newer": a newer verdict than the one shown waits for an editor; None: nothing waits
    editor_wait: str | None = None
    # Screening found vendor text addressed to the panel: `tool` is the neutralised copy (issue 13).
    vendor_text_removed: bool = False


@dataclass
class SiteData:
    tools: dict[str, ToolPage]
    personas: list[Persona]
    persona_stats: dict[str, dict]
    persona_recent: dict[str, list[tuple[Take, Tool]]] = field(default_factory=dict)


def load_site_data(store: Warehouse, personas: list[Persona], recent_per_persona: int = 12) -> SiteData:
    """Tools, published verdicts, history, votes and persona stats; takes are loaded per page (fill_takes).
    Only what `published_verdicts` / `published_history` say is published reaches a page; held verdicts
    show up only as "awaiting editor check" / "a newer review waits for an editor"."""
    with store.connect() as con:
        def q(sql: str, params: list | None = None) -> list[dict]:
            cur = con.execute(sql, params or [])
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, r)) for r in cur.fetchall()]

        snaps = {r["slug"]: r for r in q("SELECT * FROM latest_snapshot")}
        latest = {r["slug"]: r for r in q(
            "SELECT slug, verdict, ship_count, skip_count, abstain_count, failed_count, ship_pct, mean_score, "
            "median_score, spread, split_panel, take_ids, created_at FROM published_verdicts")}
        held = {r["slug"] for r in q("SELECT DISTINCT slug FROM held_verdicts")}
        decided = {r["slug"] for r in q("SELECT DISTINCT slug FROM verdicts")}
        runs = {r["slug"]: r["status"] for r in q(
            "SELECT slug, status FROM (SELECT slug, status, row_number() OVER (PARTITION BY slug ORDER BY "
            "started_at DESC, run_id DESC) AS rn FROM run_history) WHERE rn = 1")}
        history = defaultdict(list)
        for r in q("SELECT slug, verdict_id, created_at, verdict, ship_count, skip_count, ship_pct, mean_score, "
                   "spread, split_panel, trigger, reason FROM published_history ORDER BY slug, created_at, verdict_id"):
            slug = r.pop("slug")
            history[slug].append(HistoryPoint(at=r.pop("created_at"), **r))
        community = {r["slug"]: r for r in q("SELECT * FROM community_tally")}
        addressed = defaultdict(list)  # (slug, snapshot) -> screening findings that hold
        for r in q("SELECT DISTINCT slug, snapshot_hash, field, span, rule FROM findings "
                   "WHERE layer = 'screening' AND severity = 'hold'"):
            addressed[(r["slug"], r["snapshot_hash"])].append(Finding(field=r["field"], span=r["span"], rule=r["rule"]))
        # persona pages: only takes behind published verdicts (a held verdict's takes wait with it)
        shown = "(SELECT DISTINCT unnest(take_ids) FROM published_history)"
        stats = {r["persona_id"]: r for r in q(
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
            "GROUP BY persona_id")}
        recent_rows = con.execute(
            f"SELECT {', '.join(TAKE_COLUMNS)} FROM (SELECT *, row_number() OVER (PARTITION BY persona_id "
            f"ORDER BY created_at DESC, take_id DESC) AS rn FROM takes WHERE status = 'ok' AND take_id IN {shown}) "
            "WHERE rn <= ? ORDER BY persona_id, created_at DESC, take_id DESC", [recent_per_persona]).fetchall()

    pages: dict[str, ToolPage] = {}
    for slug, row in snaps.items():
        v = latest.get(slug)
        verdict = None
        if v:
            # The stored verdict is scoring.verdict's output at write time; no need to recompute it.
            verdict = Verdict(tool_slug=slug, ship_count=v["ship_count"], skip_count=v["skip_count"],
                              abstain_count=v["abstain_count"], failed_count=v["failed_count"], ship_pct=v["ship_pct"],
                              verdict=v["verdict"], mean_score=v["mean_score"], median_score=v["median_score"],
                              spread=v["spread"], split_panel=v["split_panel"], quorum_met=True,
                              take_ids=sorted(v["take_ids"]))
        status = runs.get(slug)
        found = addressed.get((slug, row["snapshot_hash"]))
        pages[slug] = ToolPage(
            tool=neutralise(_tool(row), found) if found else _tool(row), vendor_text_removed=bool(found),
            snapshot_hash=row["snapshot_hash"], verdict=verdict, takes={},
            reviewed_at=v["created_at"] if v else None, models=[],
            in_progress=verdict is not None and status is not None and status != "complete",
            history=history.get(slug, []), community=community.get(slug),
            editor_wait=("newer" if slug in held else None) if verdict else
                        ("awaiting" if slug in held or slug in decided else None))
    recent: dict[str, list] = defaultdict(list)
    for row in recent_rows:
        t = _take(row)
        if t.tool_slug in pages:
            recent[t.persona_id].append((t, pages[t.tool_slug].tool))
    return SiteData(tools=pages, personas=personas, persona_stats=stats, persona_recent=dict(recent))


def fill_takes(store: Warehouse, pages: list[ToolPage]) -> None:
    """Load the takes behind the shown verdicts of these pages, in one query."""
    ids = [i for p in pages if p.verdict for i in p.verdict.take_ids]
    if not ids:
        return
    with store.connect() as con:
        rows = con.execute(f"SELECT {', '.join(TAKE_COLUMNS)} FROM takes WHERE take_id IN "
                           "(SELECT unnest(?::VARCHAR[]))", [ids]).fetchall()
    by_slug: dict[str, list[Take]] = defaultdict(list)
    for row in rows:
        t = _take(row)
        by_slug[t.tool_slug].append(t)
    for p in pages:
        takes = by_slug.get(p.tool.slug, [])
        p.takes = {t.persona_id: t for t in takes}
        p.models = sorted({t.model for t in takes})
