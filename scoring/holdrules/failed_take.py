"""A persona's take failed: the verdict stands on fewer voices."""

from __future__ import annotations

from scoring.holdrules import register


@register("failed_take", order=20)
def failed_take(verdict, takes, published, findings, settings) -> list[str]:
    failed = [t for t in takes if t.status == "failed"]
    if not failed:
        return []
    who = ", ".join(f"{t.persona_id} ({t.error_class or 'no valid answer'})" for t in failed)
    n = len(failed)
    return [f"{n} failed take{'s' if n != 1 else ''}: {who}"]
