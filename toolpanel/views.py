"""Read models over the warehouse shared by the CLI, the flows and publishing."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import scoring
from toolpanel.models import Comparison, Persona, Take, Tool, Verdict
from warehouse import Warehouse


class UnknownTool(LookupError):
    def __init__(self, slug: str, known: list[str]):
        close = difflib.get_close_matches(slug, known, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        super().__init__(f"no tool '{slug}' in the warehouse — {hint}(review its card first: toolpanel review CARD)")
        self.slug, self.close = slug, close


@dataclass
class ToolView:
    tool: Tool
    verdict: Verdict | None          # latest complete verdict (what the site shows)
    takes: list[Take]                # the takes behind that verdict
    latest_run: dict | None          # the latest run, complete or not
    latest_takes: list[Take]         # the takes of the latest run
    reviewed_at: object | None

    @property
    def in_progress(self) -> bool:
        """The latest run did not reach quorum (or is still running) and an older verdict is shown."""
        return bool(self.latest_run) and self.latest_run.get("status") != "complete"


def tool_view(store: Warehouse, slug: str) -> ToolView:
    tool = store.latest_tool(slug)
    if tool is None:
        raise UnknownTool(slug, store.slugs())
    row = store.latest_verdict(slug)
    takes = store.takes_by_id(list(row["take_ids"])) if row else []
    verdict = scoring.verdict(slug, takes) if row else None
    runs = store.query("SELECT * FROM run_history WHERE slug = ? ORDER BY started_at DESC LIMIT 1", [slug])
    latest_run = runs[0] if runs else None
    latest_takes = store.run_takes(latest_run["run_id"]) if latest_run else []
    return ToolView(tool, verdict, takes, latest_run, latest_takes, row["created_at"] if row else None)


def order_takes(takes: list[Take], personas: list[Persona]) -> list[Take]:
    rank = {p.id: i for i, p in enumerate(personas)}
    return sorted(takes, key=lambda t: (rank.get(t.persona_id, 99), t.persona_id))


def compare_views(a: ToolView, b: ToolView, personas: list[Persona]) -> Comparison | None:
    """Scoring's comparison of two tools' shown verdicts; None when either has no verdict."""
    if a.verdict is None or b.verdict is None:
        return None
    ids = [p.id for p in personas]
    ids += sorted({t.persona_id for t in a.takes + b.takes} - set(ids))
    return scoring.compare(a.verdict, b.verdict, a.takes, b.takes, ids, names=(a.tool.name, b.tool.name))
