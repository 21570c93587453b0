"""Page types: the registry of what the site is made of.

Each file in this folder registers one kind of page (tool pages, comparisons, indexes, feeds, the digest,
...) with `@page_type(name, order)`: a function that is given the `Site` (the warehouse's data, read once
per publish, and the writer) and writes its pages with `site.w.page(path, fingerprint, render)`. Adding a
page type is adding a file here and, usually, its template in publish/templates/.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import jinja2

from toolpanel.config import Settings
from toolpanel.models import Persona
from toolpanel.publish.data import Listing, SiteData, ToolPage
from toolpanel.publish.writer import Writer
from toolpanel.summaries import PairRecord


@dataclass
class Site:
    """One publish: what every page type reads. Loaded once (site.py), before any page is rendered."""

    settings: Settings
    w: Writer
    env: jinja2.Environment
    th: str  # the templates' hash: in every fingerprint
    personas: list[Persona]
    data: SiteData
    listings: list[Listing]  # every tool, by slug
    pages: dict[str, ToolPage]  # the tools loaded in full (those some page renders)
    rows: dict[str, str]  # cached index rows
    pair_meta: list[dict]  # comparison pages: a, b, path, title, category
    pair_links: dict[str, list[dict]]
    tool_fp: dict[str, str]
    pair_fp: dict[str, str]
    changed: dict  # verdict id -> Change ("What changed since the last verdict")
    why: Callable  # [(from verdict id, to verdict id)] -> {to id: Change}
    events: list[dict] = field(default_factory=list)  # published verdicts, newest first (feeds, digest)
    answers: dict[str, PairRecord] = field(default_factory=dict)  # comparison page path -> the chair's answer

    @property
    def base(self) -> str:
        return self.settings.publish.root

    @functools.cached_property
    def signup(self) -> dict | None:
        """The signup block's form target, {"url", "origin"}, or None: the block links the feeds and the digest
        (`[newsletter] signup_url` unset, or not an address a CSP source can name: a warning says so)."""
        url = self.settings.newsletter.signup_url
        try:
            return signup_target(url)
        except ValueError as exc:
            self.w.report.warnings = [*(self.w.report.warnings or []),
                                      f"[newsletter] signup_url: {url!r} {exc} — the signup block links the feeds "
                                      "and the digest instead"]
            return None

    def render(self, name: str, root: str, **ctx) -> str:
        return self.env.get_template(name).render(root=root, personas=self.personas, signup=self.signup, **ctx)


_HOST = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*")


def signup_target(url: str) -> dict | None:
    """A signup form's action and the one origin (scheme://host[:port]) the page's CSP `form-action` allows;
    None for no URL. Raises ValueError (the reason) for anything a CSP host source cannot name exactly."""
    url = (url or "").strip()
    if not url:
        return None
    if any(ord(c) < 0x21 or c in "\"'<>\\`" for c in url):
        raise ValueError("contains spaces, quotes or control characters")
    parts = urlsplit(url)
    try:
        port = parts.port
        host = (parts.hostname or "").encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        raise ValueError("has no valid host and port") from None
    if parts.scheme.lower() not in ("http", "https") or not _HOST.fullmatch(host):
        raise ValueError("is not an http(s) address with a host name")
    if parts.username is not None or parts.password is not None:
        raise ValueError("carries a user name or password")
    return {"url": url, "origin": f"{parts.scheme.lower()}://{host}" + (f":{port}" if port is not None else "")}


PageType = Callable[[Site], None]
PAGE_TYPES: dict[str, tuple[int, PageType]] = {}


def page_type(name: str, order: int = 100) -> Callable[[PageType], PageType]:
    """Register a page type; `order` is when it is written (the stylesheet first, the digest last)."""
    def deco(fn: PageType) -> PageType:
        PAGE_TYPES[name] = (order, fn)
        return fn
    return deco


def page_types() -> dict[str, PageType]:
    """Every page type, in order; the files of this folder are loaded on first use."""
    for m in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{m.name}")
    return {name: fn for name, (_, fn) in sorted(PAGE_TYPES.items(), key=lambda kv: (kv[1][0], kv[0]))}
