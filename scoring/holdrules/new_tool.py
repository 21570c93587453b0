"""`[hold] new_tool = true`: a tool's first verdict waits for an editor."""

from __future__ import annotations

from scoring.holdrules import register


@register("new_tool", order=60)
def new_tool(verdict, takes, published, findings, settings) -> list[str]:
    if published is not None or not settings.new_tool:
        return []
    return ["new tool: no verdict of it has been published yet"]
