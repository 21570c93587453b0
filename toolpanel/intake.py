"""Intake: read the configured sources and tell new, changed, pending and unchanged tools apart."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from toolpanel.models import Tool
from warehouse import Warehouse

Status = Literal["new", "changed", "pending", "unchanged"]


@dataclass
class Intake:
    tool: Tool
    status: Status
    changed_fields: list[str] = field(default_factory=list)

    @property
    def reason(self) -> str:
        if self.status == "new":
            return "new tool"
        if self.status == "changed":
            return f"{', '.join(self.changed_fields)} changed"
        if self.status == "pending":
            return "no complete verdict yet for this version"
        return "unchanged"

    @property
    def needs_review(self) -> bool:
        return self.status != "unchanged"


def classify(store: Warehouse, tools: list[Tool]) -> list[Intake]:
    """Compare each tool with the warehouse: a new content hash means changed; cosmetic edits don't count."""
    if not store.path.exists():
        return [Intake(t, "new") for t in tools]
    known = {t.slug: t for t in store.all_tools()}
    reviewed = {(r["slug"], r["snapshot_hash"]) for r in store.query("SELECT slug, snapshot_hash FROM verdicts")}
    out = []
    for tool in tools:
        prev = known.get(tool.slug)
        if prev is None:
            out.append(Intake(tool, "new"))
        elif prev.snapshot_hash != tool.snapshot_hash:
            a, b = prev.reviewed_content(), tool.reviewed_content()
            out.append(Intake(tool, "changed", [k for k in a if a[k] != b[k]]))
        elif (tool.slug, tool.snapshot_hash) not in reviewed:
            out.append(Intake(tool, "pending"))
        else:
            out.append(Intake(tool, "unchanged"))
    return out
