"""The Jinja2 environment of the site: templates, filters (safe links, hosts, dates) and helpers."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from urllib.parse import urlparse

import jinja2

from toolpanel import flags as take_flags
from toolpanel import scorecard
from toolpanel.why.words import detail_lines, summary

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STYLESHEET = HERE / "style.css"
AWAITING = "Awaiting editor check"


def safe_url(url: str | None) -> str:
    """Only http(s) links reach a page; anything else (javascript:, data:, ...) becomes '#'."""
    if not url:
        return "#"
    parsed = urlparse(url.strip())
    return url.strip() if parsed.scheme in ("http", "https") and parsed.netloc else "#"


def _host(url: str | None) -> str:
    return urlparse(url or "").netloc or ""


def _date(value) -> str:
    return value.strftime("%Y-%m-%d") if isinstance(value, (dt.date, dt.datetime)) else str(value)


def env(cache: Path | None = None) -> jinja2.Environment:
    """The site's templates; with `cache`, compiled templates are kept there (keyed by their source, so an
    edited template is recompiled): compiling them is a tenth of an incremental republish."""
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True,
                             bytecode_cache=jinja2.FileSystemBytecodeCache(str(cache)) if cache else None)
    env.filters.update(safe_url=safe_url, host=_host, date=_date, shown_quotes=scorecard.shown_quotes)
    env.globals.update(awaiting=AWAITING, verdict_label=scorecard.verdict_label, ship_pct=scorecard.ship_pct_label,
                       with_band=scorecard.with_band,
                       pct=scorecard.pct, change_lines=detail_lines, change_summary=summary, shown_flags=take_flags.shown,
                       flag_label=take_flags.label, flag_title=take_flags.title)
    return env


def templates_hash() -> str:
    h = hashlib.sha256()
    for f in sorted(TEMPLATES.glob("*.j2")) + [STYLESHEET]:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:12]
