"""Source specs from `[sources.NAME]` tables in toolpanel.toml, or from ad-hoc command-line arguments."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from toolpanel.errors import ConfigError
from toolpanel.sections import Politeness
from toolpanel.config import Settings
from toolpanel.ingest.urls import BadURL, canonical_url

Kind = Literal["cards", "rss", "atom", "feed", "jsonfeed", "csv", "json", "auto"]
KINDS = ("cards", "rss", "atom", "feed", "jsonfeed", "csv", "json")
SOURCE_KEYS = ("kind", "path", "url", "category", "enrich", "max_items", "split_title")
DATA_SUFFIXES = {".xml", ".rss", ".atom", ".json", ".jsonfeed", ".csv"}


class SourceSpec(BaseModel):
    """One place tools come from."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: Kind
    paths: tuple[Path, ...] = ()  # cards: files/directories; other kinds: exactly one file
    url: str | None = None
    category: str | None = None
    enrich: bool = False
    max_items: int | None = Field(default=None, ge=1)
    split_title: bool | None = None  # default: on for feeds, off for lists
    adhoc: bool = False

    @property
    def location(self) -> str:
        return self.url or ", ".join(str(p) for p in self.paths)


def _where(settings: Settings, name: str | None = None) -> str:
    return f"{settings.config_path}: [sources{'.' + name if name else ''}]"


def politeness(settings: Settings) -> Politeness:
    return settings.sources.politeness


def _spec(settings: Settings, name: str, table: dict) -> SourceSpec:
    where = _where(settings, name)
    base = settings.config_path.parent if settings.config_path else Path.cwd()
    unknown = sorted(k for k in table if k not in SOURCE_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} — allowed: {', '.join(SOURCE_KEYS)}")
    path, url = table.get("path"), table.get("url")
    kind = table.get("kind", "auto" if url else "cards")
    if kind not in KINDS and "kind" in table:
        raise ConfigError(f"{where}: kind = {kind!r} is not a source kind — use one of: {', '.join(KINDS)}")
    if path is not None and url is not None:
        raise ConfigError(f"{where}: has both path and url — keep one")
    if path is None and url is None:
        raise ConfigError(f"{where}: has no path" + ("" if kind == "cards" else " or url") + " — add "
                          + ('path = "cards/"' if kind == "cards" else 'url = "https://example.com/feed.xml"'))
    if kind == "cards" and url is not None:
        raise ConfigError(f"{where}: cards are read from a directory, not a URL — use path = \"cards/\"")
    for key in ("path", "url", "category"):
        if key in table and not isinstance(table[key], str):
            raise ConfigError(f"{where}: {key} must be text — e.g. {key} = \"...\"")
    for key in ("enrich", "split_title"):
        if key in table and not isinstance(table[key], bool):
            raise ConfigError(f"{where}: {key} = {table[key]!r} must be true or false")
    max_items = table.get("max_items")
    if max_items is not None and (isinstance(max_items, bool) or not isinstance(max_items, int) or max_items < 1):
        raise ConfigError(f"{where}: max_items = {max_items!r} must be a whole number of at least 1 — "
                          "e.g. max_items = 50")
    if url is not None:
        try:
            canonical_url(url)
        except BadURL as exc:
            raise ConfigError(f"{where}: url: {exc.problem} — {exc.fix}") from None
    if table.get("enrich") and kind == "cards":
        raise ConfigError(f"{where}: enrich applies to feeds and lists, not cards — remove enrich")
    return SourceSpec(name=name, kind=kind, paths=((base / path).resolve(),) if path is not None else (), url=url,
                      category=table.get("category"), enrich=table.get("enrich", False), max_items=max_items,
                      split_title=table.get("split_title"))


def configured_sources(settings: Settings) -> list[SourceSpec]:
    """Every `[sources.NAME]` table, in file order; ConfigError names the file, the key and the fix."""
    return [_spec(settings, name, table) for name, table in settings.sources.tables.items()]


def _is_url(arg: str) -> bool:
    return arg.lower().startswith(("http://", "https://"))


def adhoc_sources(settings: Settings, args: list[str]) -> list[SourceSpec]:
    """Command-line sources: URLs, feed/list files, configured source names; everything else is read as cards.

    Card arguments form one source (in the order given) so cards behave exactly as `load_cards` always did:
    a missing path is one 'no such file or directory' rejection, duplicate slugs across files are caught.
    """
    configured = {s.name: s for s in configured_sources(settings)} if settings.sources.tables else {}
    specs: list[SourceSpec] = []
    cards: list[Path] = []
    card_slot: int | None = None
    for arg in dict.fromkeys(args):  # the same source named twice is read once
        p = Path(arg)
        if _is_url(arg):
            try:
                canonical_url(arg)
            except BadURL as exc:
                raise ConfigError(f"{arg}: {exc.problem} — {exc.fix}") from None
            specs.append(SourceSpec(name=arg, kind="auto", url=arg, adhoc=True))
        elif arg in configured and not p.exists():
            specs.append(configured[arg])
        elif p.is_file() and p.suffix.lower() in DATA_SUFFIXES:
            specs.append(SourceSpec(name=arg, kind="auto", paths=(p,), adhoc=True))
        else:
            if card_slot is None:
                card_slot = len(specs)
                specs.append(None)  # type: ignore[arg-type]  # filled in below, keeping the order given
            cards.append(p)
    if card_slot is not None:
        specs[card_slot] = SourceSpec(name=" ".join(str(c) for c in cards), kind="cards", paths=tuple(cards),
                                      adhoc=True)
    return specs

