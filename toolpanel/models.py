"""Pydantic models: the contracts between stages. No I/O here."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

TakeStatus = Literal["ok", "abstained", "failed"]
ShipSkip = Literal["ship", "skip"]


def content_hash(payload: object) -> str:
    """Stable short sha256 of a JSON-able payload (sorted keys)."""
    raw = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]


_CARD_LABELS = {"name": "Name", "tagline": "Best for", "category": "Category", "pricing": "Pricing",
                "entry": "Entry price", "launched": "Launched", "url": "URL", "description": "Description"}


class Tool(BaseModel):
    """A tool as the panel reads it. `description` is untrusted vendor text."""

    model_config = ConfigDict(frozen=True)

    name: str
    slug: str
    url: str | None = None
    category: str | None = None
    tagline: str | None = None
    pricing: str | None = None
    entry: str | None = None
    launched: dt.date | None = None
    description: str
    source: str = "card"

    def card_text(self) -> str:
        """The snapshot text the panel read (as prompts/tool.j2 labels it), against which quotes are checked."""
        content = self.reviewed_content()
        return "\n".join(f"{label}: {content[k]}" for k, label in _CARD_LABELS.items() if content.get(k))

    def reviewed_content(self) -> dict:
        """The fields the panel reads; their hash is the snapshot identity."""
        return {
            "name": self.name,
            "url": self.url,
            "category": self.category,
            "tagline": self.tagline,
            "pricing": self.pricing,
            "entry": self.entry,
            "launched": self.launched.isoformat() if self.launched else None,
            "description": self.description,
        }

    @property
    def snapshot_hash(self) -> str:
        # Whitespace is cosmetic: re-wrapped text is the same snapshot.
        norm = {k: (" ".join(v.split()) if isinstance(v, str) else v) for k, v in self.reviewed_content().items()}
        return content_hash(norm)


class Persona(BaseModel):
    """A panel member, loaded from a file in personas/; version = content hash of that file."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    lens: str
    questions: list[str]
    voice: str
    example: str
    abstain_when: str
    order: int = 100
    version: str
    path: str | None = None


class Take(BaseModel):
    """One persona's take on one tool snapshot. Immutable fact."""

    model_config = ConfigDict(frozen=True)

    take_id: str
    tool_slug: str
    snapshot_hash: str
    persona_id: str
    persona_version: str
    model: str
    prompt_hash: str
    status: TakeStatus
    score: int | None = None
    verdict: ShipSkip | None = None
    paragraph: str | None = None
    evidence: list[str] = Field(default_factory=list)  # verbatim quotes from the card (none when abstaining)
    flags: list[str] = Field(default_factory=list)  # values of toolpanel.flags.Flag
    response_model: str | None = None
    output_mode: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    latency_ms: int | None = None
    cost_usd: float | None = None
    error_class: str | None = None
    error: str | None = None
    created_at: dt.datetime
    # Issue 27, `[panel] rounds = 2`: round 2 is the take written after reading the others' round-one takes;
    # `seen_take_ids` are the round-one takes its prompt showed (its own first, then reviewers A, B, … in order).
    round: int = Field(default=1, ge=1, le=2)
    seen_take_ids: list[str] = Field(default_factory=list)

    @property
    def cache_key(self) -> tuple[str, str, str, str]:
        """The take cache's key. A round-two take's prompt hash is the round-two prompt's (prompts.round_two_hash),
        so the round is part of the key; a round-two hit is valid only for the same `seen_take_ids`."""
        return (self.snapshot_hash, self.persona_version, self.prompt_hash, self.model)

    @property
    def grounded(self) -> bool | None:
        """Every quote was found in the card; None for a take without a position or without quotes (older)."""
        return None if self.status != "ok" or not self.evidence else "ungrounded" not in self.flags


def pct(value: float | None) -> str:
    """'75%' for 75.0, '—' when there is no percentage."""
    return "—" if value is None else f"{round(value)}%"


def panel_label(verdict: str, ship_count: int, skip_count: int) -> str:
    """Seed wording, e.g. 'Ship · 3 ship / 1 skip' (one place for every page, table and artifact)."""
    return f"{verdict.capitalize()} · {ship_count} ship / {skip_count} skip"


class CarriedTake(BaseModel):
    """A persona's current take that a partial re-review counted without asking again: which take, and the
    verdict (and its run) it was carried from."""

    model_config = ConfigDict(frozen=True)

    persona_id: str
    take_id: str
    from_verdict_id: str
    from_run_id: str


class Verdict(BaseModel):
    """The panel verdict derived from a set of takes (see scoring.verdict)."""

    model_config = ConfigDict(frozen=True)

    tool_slug: str
    ship_count: int
    skip_count: int
    abstain_count: int
    failed_count: int
    ship_pct: float | None
    verdict: Literal["ship", "skip", "incomplete"]
    mean_score: float | None
    median_score: float | None
    spread: int | None
    split_panel: bool
    quorum_met: bool
    take_ids: list[str]
    # A partial re-review (issue 22): the other personas' current takes it was completed with, and the
    # panel's personas that had no take to count or carry. Empty for a whole-panel review.
    carried: list[CarriedTake] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list)

    @property
    def label(self) -> str:
        """Seed wording, e.g. 'Ship · 3 ship / 1 skip'."""
        return panel_label(self.verdict if self.quorum_met else "incomplete", self.ship_count, self.skip_count)

    @property
    def ship_pct_label(self) -> str:
        return pct(self.ship_pct)


class HeadToHead(BaseModel):
    persona_id: str
    a: Take | None
    b: Take | None
    winner: Literal["a", "b", "tie", "none"]


class Comparison(BaseModel):
    a: Verdict
    b: Verdict
    head_to_head: list[HeadToHead]
    pick: Literal["a", "b", "neither", "tie"]
    pick_slug: str | None
    reason: str


class Finding(BaseModel):
    """Something screening or a check noticed in a tool's text or a take: data, kept with the verdict."""

    model_config = ConfigDict(frozen=True)

    field: str                      # e.g. "description", "take:skeptic"
    span: str = ""                  # the text (or a short excerpt) that triggered it
    rule: str                       # which check noticed it
    severity: Literal["info", "warn", "hold"] = "warn"


Decision = Literal["held", "approved", "rejected", "auto", "superseded"]


# -- Change: why two verdicts of a tool differ (toolpanel.why.changes computes it) ---------------------------


class TextDiff(BaseModel):
    """A word-level difference between two texts: how many words went and came, and the passages."""

    removed_words: int
    added_words: int
    removed: list[str] = Field(default_factory=list)  # removed passages, in text order
    added: list[str] = Field(default_factory=list)


class FieldChange(BaseModel):
    field: str
    before: str | None
    after: str | None


class PersonaChange(BaseModel):
    """A persona whose file differs between the two runs (or who sat on only one of the two panels)."""

    persona_id: str
    name: str
    before_version: str | None  # None: not on the earlier panel
    after_version: str | None  # None: not on the later panel
    fields: list[str] | None  # the fields that differ; None = unknown (a run recorded before file contents were kept)
    details: dict[str, str] = Field(default_factory=dict)  # field -> what changed, in words


class ModelChange(BaseModel):
    persona_id: str
    name: str
    before: str
    after: str


class TakeSide(BaseModel):
    """One persona's take in one verdict; status None = the persona had no take in that verdict."""

    take_id: str | None = None
    status: TakeStatus | None = None
    score: int | None = None
    verdict: ShipSkip | None = None


class TakeDelta(BaseModel):
    persona_id: str
    name: str
    before: TakeSide
    after: TakeSide
    carried: bool = False  # the later verdict carried this persona's current take (not asked again)

    @property
    def same_take(self) -> bool:
        """The very same stored take (a cache hit), so nothing about it can have changed."""
        return self.before.take_id is not None and self.before.take_id == self.after.take_id

    @property
    def score_delta(self) -> int | None:
        if self.before.score is None or self.after.score is None:
            return None
        return self.after.score - self.before.score

    @property
    def flipped(self) -> bool:
        """Ship/skip changed, or the persona went from a take to none (or back)."""
        return (self.before.status, self.before.verdict) != (self.after.status, self.after.verdict)


class Change(BaseModel):
    """Why two verdicts of a tool differ: description diff, persona/prompt/model changes, per-persona take
    deltas. `None` in a detail means unknown (the earlier run predates per-part records), never unchanged."""

    slug: str
    name: str
    from_run_id: str
    to_run_id: str
    from_verdict_id: str
    to_verdict_id: str
    from_label: str
    to_label: str
    from_verdict: str
    to_verdict: str
    from_at: dt.datetime
    to_at: dt.datetime
    to_trigger: str
    to_reason: str | None = None
    description_changed: bool
    description: TextDiff | None = None
    card_fields: list[FieldChange] = Field(default_factory=list)  # other fields the panel reads
    personas_changed: bool
    personas: list[PersonaChange] = Field(default_factory=list)
    templates_changed: bool
    templates: list[str] | None = Field(default_factory=list)  # which ones; None = unknown
    model_changed: bool
    models: list[ModelChange] = Field(default_factory=list)
    settings: list[FieldChange] = Field(default_factory=list)  # temperature, max_tokens, provider endpoint
    forced: bool
    identical_inputs: bool
    forced_identical: bool  # a forced re-review of identical inputs: any difference is provider variance
    takes: list[TakeDelta] = Field(default_factory=list)


@dataclass
class ReviewRequest:
    """What a caller (CLI, daily flow, editor flow) asks of a review."""

    trigger: str = "cli"
    reason: str | None = None
    force: bool = False
    flow_run_id: str | None = None
    model_override: str | None = None
    personas: list[str] | None = None  # subset of persona ids; None = the whole panel
    # Orchestrated runs set this on every attempt but the last: transient failures then close the run
    # as "retrying" (no verdict) and raise, and the retry pays only for the failed personas.
    defer_transient: bool = False
    exceed_daily_budget: bool = False  # an editor said so explicitly: per_day caps do not apply (per_run do)


class Reviewer(Protocol):
    """What the review path's defence (toolpanel.screening) needs of the panel reviewing a tool
    (toolpanel.panel.review.Panel), so that screening never imports the panel that calls it."""

    settings: Any  # toolpanel.config.Settings
    store: Any  # warehouse.store.Warehouse
    commit: Any  # warehouse.store.GroupCommit
    spend: Any  # toolpanel.panel.budget.Spend
    llm: Any  # toolpanel.panel.llm.LLM
    personas: list[Persona]
    prompt_hash: str
    profile: str

    async def score_history(self, slug: str) -> dict[str, tuple[int, float, float]]: ...

    async def unstored_take(self, tool: Tool, persona: Persona, shared: list[dict], model: str) -> Take: ...
