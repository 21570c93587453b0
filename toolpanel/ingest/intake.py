"""Intake: read the configured sources and tell new, changed, pending, stale and unchanged tools apart."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from toolpanel.models import Tool
from warehouse.store import Warehouse

Status = Literal["new", "changed", "pending", "stale", "unchanged"]
STALE_REASON = "prompt or persona changed"


@dataclass(frozen=True)
class PanelVersion:
    """What the panel would review with today: the prompt hash and each persona's version."""

    prompt_hash: str
    persona_versions: dict[str, str]
    round_two_hash: str = ""  # a round-two take's prompt version ([panel] rounds = 2) is current too


@dataclass
class Intake:
    tool: Tool
    status: Status
    changed_fields: list[str] = field(default_factory=list)
    verdict_at: dt.datetime | None = None  # when the verdict a stale tool shows was made

    @property
    def reason(self) -> str:
        if self.status == "new":
            return "new tool"
        if self.status == "changed":
            return f"{', '.join(self.changed_fields)} changed"
        if self.status == "pending":
            return "no complete verdict yet for this version"
        if self.status == "stale":
            return STALE_REASON
        return "unchanged"

    @property
    def needs_review(self) -> bool:
        return self.status != "unchanged"


def classify(store: Warehouse, tools: list[Tool], panel: PanelVersion | None = None) -> list[Intake]:
    """Compare each tool with the warehouse: a new content hash means changed; cosmetic edits don't count.
    With `panel`, an unchanged tool whose latest verdict rests on a take from another prompt or persona
    version is stale."""
    if not store.path.exists():
        return [Intake(t, "new") for t in tools]
    # Only this batch's tools are read: memory follows the batch, not the warehouse's history.
    slugs = sorted({t.slug for t in tools})
    known = {t.slug: t for t in store.latest_tools(slugs)}
    reviewed = {(r["slug"], r["snapshot_hash"]) for r in store.query(
        "SELECT DISTINCT slug, snapshot_hash FROM verdicts WHERE list_contains(?::VARCHAR[], slug)", [slugs])}
    # Only an unchanged, reviewed tool can be stale: new and changed ones need no look at the takes table.
    settled = sorted({t.slug for t in tools if (t.slug, t.snapshot_hash) in reviewed
                      and known.get(t.slug) is not None and known[t.slug].snapshot_hash == t.snapshot_hash})
    outdated = _outdated(store, panel, settled) if panel and settled else {}
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
        elif (tool.slug, tool.snapshot_hash) in outdated:
            out.append(Intake(tool, "stale", verdict_at=outdated[(tool.slug, tool.snapshot_hash)]))
        else:
            out.append(Intake(tool, "unchanged"))
    return out


def _outdated(store: Warehouse, panel: PanelVersion, slugs: list[str]) -> dict[tuple[str, str], dt.datetime]:
    """(slug, snapshot) -> verdict time, for these tools' latest verdicts resting on a take from another
    prompt or persona version (a persona no longer on the panel does not count)."""
    rows = store.query("""
        SELECT v.slug, v.snapshot_hash, v.created_at, t.prompt_hash, t.persona_id, t.persona_version
        FROM (SELECT slug, snapshot_hash, created_at, unnest(take_ids) AS take_id FROM latest_verdicts
              WHERE list_contains(?::VARCHAR[], slug)) v
        JOIN takes t USING (take_id)""", [slugs])
    out: dict[tuple[str, str], dt.datetime] = {}
    for r in rows:
        current = panel.persona_versions.get(r["persona_id"])
        if current is not None and (r["prompt_hash"] not in (panel.prompt_hash, panel.round_two_hash)
                                or r["persona_version"] != current):
            out[(r["slug"], r["snapshot_hash"])] = r["created_at"]
    return out


def panel_version(settings) -> PanelVersion | None:
    """The prompt hash and persona versions a review would use now; None when the personas do not load
    (the review itself then names the broken file)."""
    from toolpanel.panel.personas import PersonaError, load_personas
    from toolpanel.panel.prompts import prompt_hash, round_two_hash
    from toolpanel.panel.provider import profile_for

    try:
        personas = load_personas(settings.personas_dir)
        profile = profile_for(settings)
        return PanelVersion(prompt_hash(settings.prompts_dir, profile), {p.id: p.version for p in personas},
                            round_two_hash(settings.prompts_dir, profile))
    except (PersonaError, OSError):
        return None


def for_review(intakes: list[Intake], max_stale: int) -> list[Intake]:
    """What a daily run reviews: every new, changed and pending tool, and at most `max_stale` stale ones,
    oldest verdict first (the rest wait for the next run)."""
    stale = sorted((i for i in intakes if i.status == "stale"), key=lambda i: (i.verdict_at or dt.datetime.min,
                                                                               i.tool.slug))
    chosen = {id(i) for i in stale[:max_stale]}
    return [i for i in intakes if i.needs_review and (i.status != "stale" or id(i) in chosen)]
