"""The review queue: what is held and why, and an editor's decision on it. Used by the CLI
(`toolpanel queue / approve / reject`) and the `review-queue` flow alike; the warehouse is the queue."""

from __future__ import annotations

from pydantic import BaseModel

from scoring.band import row_label
from toolpanel import scorecard
from toolpanel.config import Settings
from toolpanel.errors import ExitCode, ToolpanelError
from toolpanel.models import Persona, panel_label, pct
from warehouse.store import Warehouse

APPROVE_HINT = "approve with: toolpanel approve {slug} --editor NAME"


class QueueItem(BaseModel):
    """One held tool: its newest held verdict, what readers see now, and why it waits."""

    slug: str
    name: str
    verdict_id: str
    new: str                       # "Skip · 1 ship / 4 skip (Clear), panel ship 20%"
    old: str | None                # the published verdict, None for a new tool
    band: str | None = None        # the new verdict's confidence band label (scoring/band.py); None: incomplete
    old_band: str | None = None    # the published verdict's
    reasons: list[str]
    held_verdicts: int             # several reviews may wait; approving takes the newest
    held_at: str
    takes: list[str]               # "Builder: 85/100 · ship — paragraph"

    def line(self) -> str:
        return f"held {self.slug}: {'; '.join(self.reasons)} — {APPROVE_HINT.format(slug=self.slug)}"


def _label(row: dict) -> str:
    """A held or published verdict as the queue shows it, with its confidence band (scorecard.with_band)."""
    shown = scorecard.with_band(panel_label(row["verdict"], row["ship_count"], row["skip_count"]), row_label(row))
    return f"{shown}, panel ship {pct(row['ship_pct'])}"


def held_items(store: Warehouse, personas: list[Persona]) -> list[QueueItem]:
    """Every held tool, oldest hold first (one item per tool: its newest held verdict)."""
    rows = store.held()
    by_slug: dict[str, list[dict]] = {}
    for r in rows:
        by_slug.setdefault(r["slug"], []).append(r)
    items = []
    for slug, held in by_slug.items():
        newest = max(held, key=lambda r: (r["created_at"], r["verdict_id"]))
        tool = store.latest_tool(slug)
        published = store.published_verdict(slug)
        takes = store.takes_by_id(list(newest["take_ids"]))
        rank = {p.id: i for i, p in enumerate(personas)}
        lines = []
        for t in sorted(takes, key=lambda t: (rank.get(t.persona_id, 99), t.persona_id)):
            text = f"{scorecard.persona_name(t.persona_id, personas)}: {scorecard.take_label(t)}"
            if t.paragraph and t.status == "ok":
                text += f" — {t.paragraph}"
            lines.append(text)
        reasons = list(dict.fromkeys(x for r in held for x in r["reasons"]))
        items.append(QueueItem(slug=slug, name=tool.name if tool else slug, verdict_id=newest["verdict_id"],
                               new=_label(newest), old=_label(published) if published else None,
                               band=row_label(newest), old_band=row_label(published), reasons=reasons,
                               held_verdicts=len(held), held_at=str(min(r["held_at"] for r in held))[:19],
                               takes=lines))
    return sorted(items, key=lambda i: (i.held_at, i.slug))


def decide(settings: Settings, slug: str, decision: str, *, editor: str, note: str | None = None,
           flow_run_id: str | None = None, verdict_id: str | None = None) -> dict:
    """Record an editor's approve/reject of a held tool; ToolpanelError when there is nothing to decide."""
    editor = (editor or "").strip()
    if not editor:
        raise ToolpanelError("the editor's name is empty", "give your name: --editor NAME (it is recorded with "
                             "the decision)", field="editor", code=ExitCode.CONFIG)
    store = Warehouse(settings.warehouse_path)
    done = store.decide(slug, decision, editor=editor, note=(note or "").strip() or None,
                        flow_run_id=flow_run_id, verdict_id=verdict_id) if settings.warehouse_path.exists() else None
    if done is None:
        held = sorted({r["slug"] for r in store.held()}) if settings.warehouse_path.exists() else []
        which = f"held now: {', '.join(held)}" if held else "nothing is held"
        raise ToolpanelError(f"no held verdict of '{slug}'" + (" (this one was decided meanwhile)" if verdict_id else ""),
                             f"see what waits with: toolpanel queue ({which})", field="slug")
    if done.get("refused") == "incomplete":
        raise ToolpanelError(f"the held verdict of '{slug}' is incomplete (too few personas took a position): "
                             "there is nothing to publish", f"reject it, or ask the panel again: toolpanel review "
                             f"CARD --force (or 're-review' in the review-queue form)", field="slug")
    return done



