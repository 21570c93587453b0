"""Contracts of the ingest stage: raw items, rejections, per-item and per-source outcomes."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

from toolpanel.errors import MESSAGE_CAP, ToolpanelError, shorten
from toolpanel.models import Tool

ItemStatus = Literal["new", "changed", "pending", "stale", "unchanged", "duplicate", "deferred", "rejected"]
STATUSES: tuple[str, ...] = ("new", "changed", "pending", "stale", "unchanged", "duplicate", "deferred", "rejected")


class RawItem(BaseModel):
    """One entry as a source gave it, before any cleaning (text may be HTML)."""

    index: int  # 1-based position in the source (CSV: the line number)
    label: str  # how messages name it: 'item 3', 'line 4'
    title: object = None
    url: object = None
    summary: object = None
    content: object = None
    category: object = None
    tagline: object = None
    pricing: object = None
    entry: object = None
    launched: object = None
    slug: object = None


class Rejection(BaseModel):
    """Why a source or one of its items was refused: where, which field, what is wrong, how to fix it."""

    model_config = ConfigDict(frozen=True)

    source: str
    item: str | None = None  # None: the whole source (fetch failed, not a feed, ...)
    url: str | None = None
    field: str | None = None
    problem: str
    fix: str
    card: bool = False  # card rejections read exactly as before: '<path>: <problem> — <fix>'
    cap: int = MESSAGE_CAP  # characters of the message line and the stored row ([limits] message_chars)

    @field_validator("source", "item", "url", "field", "problem", "fix")
    @classmethod
    def _bounded(cls, v: str | None) -> str | None:
        """Hostile input can be megabytes; no part of a rejection is ever longer than a message."""
        return shorten(v) if isinstance(v, str) and len(v) > MESSAGE_CAP else v

    @classmethod
    def of(cls, exc: ToolpanelError, *, source: str, item: str | None = None, url: str | None = None,
           card: bool = False, cap: int = MESSAGE_CAP) -> Rejection:
        """The rejection of one ToolpanelError (its file is the card path when `card`)."""
        return cls(source=source, item=(exc.file or item) if card else item, url=url, field=exc.field,
                   problem=exc.problem, fix=exc.fix, card=card, cap=cap)

    def error(self, *, where: bool = True) -> ToolpanelError:
        return ToolpanelError(self.problem, self.fix, file=self.path if where else None, field=self.field)

    @property
    def path(self) -> str:
        """Where, as a message starts (the name `path` keeps `toolpanel review --json` unchanged)."""
        if self.card:
            return self.item or self.source
        return f"{self.source}: {self.item}" if self.item else self.source

    @property
    def reason(self) -> str:
        """The message without its 'where' prefix (what the rejections table stores)."""
        return self.error(where=False).message(self.cap)

    def __str__(self) -> str:
        return self.error().message(self.cap)


class ItemOutcome(BaseModel):
    """What ingest decided for one item."""

    source: str
    item: str
    index: int = 0  # position in its source (cards: 0, kept in load order)
    status: ItemStatus
    slug: str | None = None
    name: str | None = None
    url: str | None = None
    reason: str = ""
    enriched: bool = False
    item_hash: str | None = None  # the item's own content, before enrichment
    tool: Tool | None = None
    rejection: Rejection | None = None
    deferral: Rejection | None = None  # why a deferred item waits for the next run


class SourceOutcome(BaseModel):
    """One source's read: where from, whether it could be read at all, what it held."""

    name: str
    kind: str
    location: str
    adhoc: bool = False
    status: Literal["ok", "failed"] = "ok"
    error: Rejection | None = None
    items: int = 0
    notes: list[str] = []
    started_at: dt.datetime
    finished_at: dt.datetime | None = None
