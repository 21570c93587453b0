"""Everything the site shows, read from the warehouse in a few bulk queries (no per-page queries)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

import scoring
from toolpanel.models import Persona, Take, Tool, Verdict
from warehouse import Warehouse
from warehouse.store import TAKE_COLUMNS, _take, _tool


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
        return f"{self.verdict.capitalize()} · {self.ship_count} ship / {self.skip_count} skip"


@dataclass
class ToolPage:
    tool: Tool
    verdict: Verdict | None            # the latest complete verdict
    takes: dict[str, Take]             # persona id -> take behind that verdict
    reviewed_at: dt.datetime | None
    models: list[str]
    in_progress: bool                  # the latest run did not complete: a re-review is under way
    history: list[HistoryPoint]
    community: dict | None             # {"ship_votes", "skip_votes", "votes", "ship_pct"}


@dataclass
class SiteData:
    tools: dict[str, ToolPage]
    personas: list[Persona]
    persona_stats: dict[str, dict]
    persona_recent: dict[str, list[tuple[Take, Tool]]] = field(default_factory=dict)


def load_site_data(store: Warehouse, personas: list[Persona], recent_per_persona: int = 12) -> SiteData:
    with store.connect() as con:
        def q(sql: str, params: list | None = None) -> list[dict]:
            cur = con.execute(sql, params or [])
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, r)) for r in cur.fetchall()]

        tools = {r["slug"]: _tool(r) for r in q("SELECT * FROM latest_snapshot")}
        latest = {r["slug"]: r for r in q("SELECT slug, take_ids, created_at FROM latest_verdicts")}
        take_rows = con.execute(
            f"SELECT {', '.join('t.' + c for c in TAKE_COLUMNS)} FROM takes t "
            "JOIN (SELECT DISTINCT unnest(take_ids) AS take_id FROM latest_verdicts) v USING (take_id)").fetchall()
        runs = {r["slug"]: r["status"] for r in q(
            "SELECT slug, status FROM (SELECT slug, status, row_number() OVER (PARTITION BY slug ORDER BY "
            "started_at DESC, run_id DESC) AS rn FROM run_history) WHERE rn = 1")}
        history = defaultdict(list)
        for r in q("SELECT slug, verdict_id, created_at, verdict, ship_count, skip_count, ship_pct, mean_score, "
                   "spread, split_panel, trigger, reason FROM verdict_history ORDER BY slug, created_at, verdict_id"):
            slug = r.pop("slug")
            history[slug].append(HistoryPoint(at=r.pop("created_at"), **r))
        community = {r["slug"]: r for r in q("SELECT * FROM community_tally")}
        stats = {r["persona_id"]: r for r in q("SELECT * FROM persona_stats")}
        recent_rows = con.execute(
            f"SELECT {', '.join(TAKE_COLUMNS)} FROM (SELECT *, row_number() OVER (PARTITION BY persona_id "
            "ORDER BY created_at DESC, take_id DESC) AS rn FROM takes WHERE status = 'ok') WHERE rn <= ? "
            "ORDER BY persona_id, created_at DESC, take_id DESC", [recent_per_persona]).fetchall()

    takes_by_id = {}
    for row in take_rows:
        t = _take(row)
        takes_by_id[t.take_id] = t
    pages: dict[str, ToolPage] = {}
    for slug, tool in tools.items():
        row = latest.get(slug)
        takes = [takes_by_id[i] for i in (row["take_ids"] if row else []) if i in takes_by_id]
        verdict = scoring.verdict(slug, takes) if row else None
        status = runs.get(slug)
        pages[slug] = ToolPage(
            tool=tool, verdict=verdict, takes={t.persona_id: t for t in takes},
            reviewed_at=row["created_at"] if row else None,
            models=sorted({t.model for t in takes}),
            in_progress=verdict is not None and status is not None and status != "complete",
            history=history.get(slug, []),
            community=community.get(slug))
    recent: dict[str, list] = defaultdict(list)
    for row in recent_rows:
        t = _take(row)
        if t.tool_slug in tools:
            recent[t.persona_id].append((t, tools[t.tool_slug]))
    return SiteData(tools=pages, personas=personas, persona_stats=stats, persona_recent=dict(recent))
