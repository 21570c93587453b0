"""Read models over the warehouse shared by the CLI, the flows and publishing.

One published truth (issue 22): what a tool "shows" is its published verdict (the `published_verdicts`
view, the same the site renders); a held verdict is shown only when asked (`include_held`) and is then
marked. A re-review is "in progress" only while a run is open and younger than `[flows] stale_run_minutes`.
"""

from __future__ import annotations

import datetime as dt
import difflib
from dataclasses import dataclass, field

from scoring import rules
from scoring.band import row_label
from toolpanel.models import Comparison, Persona, Take, Tool, Verdict
from toolpanel.summaries import PanelSummary
from toolpanel.sections import FlowSettings
from warehouse.store import Warehouse
from warehouse.rows import now
from toolpanel.errors import ToolpanelError

PUBLISHED = ("approved", "auto")           # decisions that publish a verdict
HELD_MARK = "held — waits for an editor"   # how every command marks a held verdict
STALE_RUN_MINUTES = FlowSettings().stale_run_minutes


class UnknownTool(ToolpanelError):
    """A slug the warehouse does not know (exit 1), with the closest known ones."""

    def __init__(self, slug: str, known: list[str]):
        close = difflib.get_close_matches(slug, known, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        super().__init__(f"no tool '{slug}' in the warehouse — {hint}(review its card first: toolpanel review CARD)")
        self.slug, self.close = slug, close


def open_run_cutoff(stale_run_minutes: int = STALE_RUN_MINUTES, at: dt.datetime | None = None) -> dt.datetime:
    """A run still open (no result row) that started before this instant counts as dead, not in progress.
    Timestamps are naive UTC, as the warehouse writes them."""
    return (at or now()) - dt.timedelta(minutes=stale_run_minutes)


def stored_verdict(row: dict) -> Verdict:
    """A verdict as stored with its run (what the site shows), not recomputed under today's rules."""
    return Verdict(tool_slug=row["slug"], ship_count=row["ship_count"], skip_count=row["skip_count"],
                   abstain_count=row["abstain_count"], failed_count=row["failed_count"], ship_pct=row["ship_pct"],
                   verdict=row["verdict"], mean_score=row["mean_score"], median_score=row["median_score"],
                   spread=row["spread"], split_panel=row["split_panel"], quorum_met=True,
                   take_ids=sorted(row["take_ids"]))


def held_note(reasons: list[str] | None) -> str:
    """'held — waits for an editor: split panel (…); …' (the reasons, when the hold rules gave any)."""
    return HELD_MARK + (": " + "; ".join(reasons) if reasons else "")


@dataclass
class ToolView:
    tool: Tool
    verdict: Verdict | None          # the verdict shown: the published one (with include_held: the newer held one)
    takes: list[Take]                # the takes behind that verdict
    latest_run: dict | None          # the latest run, complete or not
    latest_takes: list[Take]         # the takes of the latest run
    reviewed_at: object | None       # when the shown verdict was computed
    decision: str | None = None      # what became of the shown verdict: approved | auto | held
    held_reasons: list[str] = field(default_factory=list)  # the shown verdict is held: why
    published: Verdict | None = None  # the published verdict (differs from `verdict` when a held one is shown)
    waiting: dict | None = None      # the newest held verdict newer than the published one (a held_verdicts row)
    open_since: dt.datetime | None = None  # the start of the newest run without a result
    stale_run_minutes: int = STALE_RUN_MINUTES
    band: str | None = None  # the shown verdict's confidence band label (scoring/band.py)
    summary: PanelSummary | None = None  # the shown verdict's panel summary, when the chair's passed its checks
    verdict_id: str | None = None  # the shown verdict's id

    @property
    def held(self) -> bool:
        """The shown verdict waits for an editor (only with include_held)."""
        return self.decision == "held"

    @property
    def in_progress(self) -> bool:
        """A run of the tool is open (no result yet) and started less than stale_run_minutes ago; one open
        longer counts as dead."""
        return self.open_since is not None and self.open_since > open_run_cutoff(self.stale_run_minutes)


def tool_view(store: Warehouse, slug: str, *, include_held: bool = False,
              stale_run_minutes: int = STALE_RUN_MINUTES) -> ToolView:
    """The tool as the site shows it: its published verdict; with `include_held`, the newest held verdict
    newer than that instead (marked by `decision == 'held'`)."""
    tool = store.latest_tool(slug)
    if tool is None:
        raise UnknownTool(slug, store.slugs())
    pub = store.query("SELECT * FROM published_verdicts WHERE slug = ?", [slug])
    held = store.query("SELECT * FROM held_verdicts WHERE slug = ? ORDER BY created_at DESC, verdict_id DESC "
                       "LIMIT 1", [slug])
    published_row, waiting = (pub[0] if pub else None), (held[0] if held else None)
    row = waiting if include_held and waiting else published_row
    takes = store.takes_by_id(list(row["take_ids"])) if row else []
    runs = store.query("SELECT * FROM run_history WHERE slug = ? ORDER BY started_at DESC, run_id DESC", [slug])
    latest_run = runs[0] if runs else None
    latest_takes = store.run_takes(latest_run["run_id"]) if latest_run else []
    open_since = max((r["started_at"] for r in runs if r["status"] == "running"), default=None)
    said = store.query("SELECT summary FROM panel_summaries WHERE verdict_id = ? AND status = 'ok'",
                       [row["verdict_id"]]) if row else []
    return ToolView(
        tool, stored_verdict(row) if row else None, takes, latest_run, latest_takes,
        row["created_at"] if row else None,
        decision=("held" if row is waiting else published_row["decision"]) if row else None,
        held_reasons=list(waiting["reasons"]) if row is not None and row is waiting else [],
        published=stored_verdict(published_row) if published_row else None, waiting=waiting,
        open_since=open_since, stale_run_minutes=stale_run_minutes,
        band=row_label(row),
        summary=PanelSummary.model_validate_json(said[0]["summary"]) if said else None,
        verdict_id=row["verdict_id"] if row else None)


def order_takes(takes: list[Take], personas: list[Persona]) -> list[Take]:
    rank = {p.id: i for i, p in enumerate(personas)}
    return sorted(takes, key=lambda t: (rank.get(t.persona_id, 99), t.persona_id))


def compare_views(a: ToolView, b: ToolView, personas: list[Persona]) -> Comparison | None:
    """Scoring's comparison of two tools' shown verdicts, over the panel's personas (as the site's comparison
    page does); None when either has no verdict."""
    if a.verdict is None or b.verdict is None:
        return None
    return rules.compare(a.verdict, b.verdict, a.takes, b.takes, [p.id for p in personas],
                           names=(a.tool.name, b.tool.name))
