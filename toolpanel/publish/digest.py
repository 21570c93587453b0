"""The weekly digest (web and email), with why each changed verdict changed.

What a week shows is one pure function, `select_week`; the site's digest pages (`digest`) and the weekly
newsletter (toolpanel.newsletter) both render its `Week` through `render_html` and the same template.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence

import jinja2
from pydantic import BaseModel

from toolpanel.errors import ExitCode, ToolpanelError
from toolpanel.why.words import summary
from toolpanel.publish.render import STYLESHEET
from toolpanel.publish.writer import Writer

TOP_SPLITS = 5  # the biggest splits a week shows
WEEK_PAIRS = 10  # comparisons a week shows: pairs with a tool of the week, in the site's order
_ISO_WEEK = re.compile(r"(\d{4})-W(\d{2})")


class Week(BaseModel):
    """One ISO week of published verdicts, as the digest and the newsletter show it."""

    label: str  # "2026-W49"
    start: dt.date  # Monday
    end: dt.date  # Sunday
    events: list[dict]  # each tool's latest verdict of the week (feeds.events_of rows), by name
    new: list[dict]  # a tool's first published verdict
    changes: list[dict]  # ship <-> skip since the tool's previous verdict
    splits: list[dict]  # split panels, the widest spread first
    comparisons: list[dict]  # comparison pages (site.pair_pages rows) with a tool of the week


def parse_week(label: str) -> tuple[int, int]:
    """'2026-W49' -> (2026, 49); anything else is a ToolpanelError naming the value and the form."""
    m = _ISO_WEEK.fullmatch(label.strip())
    try:
        if not m:
            raise ValueError
        dt.date.fromisocalendar(int(m[1]), int(m[2]), 1)
    except ValueError:
        raise ToolpanelError(f"'{label}' is not an ISO week", "write it as YYYY-Www, e.g. 2026-W49",
                             field="week", code=ExitCode.CONFIG) from None
    return int(m[1]), int(m[2])


def newest_week(events: Sequence[dict]) -> str:
    """The ISO week of the newest verdict (not the clock: same warehouse, same digest); 1970-W01 when none."""
    y, wk = events[0]["at"].isocalendar()[:2] if events else (1970, 1)
    return f"{y}-W{wk:02d}"


def select_week(events: Sequence[dict], week: str | None = None, pairs: Sequence[dict] = ()) -> Week:
    """What the digest of `week` (default: the newest verdict's) shows, from every published verdict as
    an event (newest first, feeds.events_of) and the site's comparison pages."""
    y, wk = parse_week(week or newest_week(events))
    start = dt.date.fromisocalendar(y, wk, 1)
    end = start + dt.timedelta(days=6)
    latest_per_tool: dict[str, dict] = {}
    for e in events:
        if start <= e["at"].date() <= end:
            latest_per_tool.setdefault(e["slug"], e)
    shown = sorted(latest_per_tool.values(), key=lambda e: (e["name"].lower(), e["slug"]))
    splits = sorted((e for e in shown if e["split"]), key=lambda e: (-(e["spread"] or 0), e["slug"]))[:TOP_SPLITS]
    slugs = set(latest_per_tool)
    return Week(label=f"{y}-W{wk:02d}", start=start, end=end, events=shown,
                new=[e for e in shown if not e["previous"]],
                changes=[e for e in shown if e["previous"] and e["previous"] != e["verdict"]], splits=splits,
                comparisons=[p for p in pairs if p["a"] in slugs or p["b"] in slugs][:WEEK_PAIRS])


def why_sentences(week: Week, why: Callable | None) -> dict[str, str]:
    """Each changed verdict's one-sentence "why" (toolpanel.why.words.summary), by verdict id; `why` takes
    [(previous verdict id, verdict id)] and returns {verdict id: Change} (warehouse.changes.explain_pairs)."""
    if why is None or not week.changes:
        return {}
    return {k: summary(c) for k, c in why([(e["previous_id"], e["id"]) for e in week.changes]).items()}


def context(week: Week, why: dict[str, str], base: str) -> dict:
    """The digest templates' variables (digest.html.j2, digest.txt.j2); links are `base` + a site path."""
    return dict(week=week.label, start=week.start, end=week.end, events=week.events, new=week.new,
                splits=week.splits, changes=week.changes, comparisons=week.comparisons, why=why, base=base,
                email_css=STYLESHEET.read_text())


def render_html(env: jinja2.Environment, week: Week, why: dict[str, str], *, base: str, root: str,
                email: bool) -> str:
    """The digest page (email=False) or its email version (inline style, links under `base`)."""
    return env.get_template("digest.html.j2").render(root=root, email=email, **context(week, why, base))


def digest(w: Writer, env: jinja2.Environment, events: list[dict], base: str, th: str, why=None,
           pairs: Sequence[dict] = ()) -> None:
    """This week's verdicts: the digest of the newest verdict's week, on the web and as the email version."""
    week = select_week(events, pairs=pairs)
    # only what the digest shows: a community vote elsewhere must not re-render it
    fp = [th, base, week.label, [(e["id"], e["previous"], e["previous_id"], e["name"], e["tagline"]) for e in week.events],
          [(p["path"], p["title"]) for p in week.comparisons]]
    whys: dict[str, str] | None = None

    def render(base: str, email: bool) -> str:
        nonlocal whys
        if whys is None:  # each changed verdict says why (read once, only when a page is written)
            whys = why_sentences(week, why)
        return render_html(env, week, whys, base=base, root="../", email=email)

    w.page(f"digest/{week.label}.html", fp + ["web"], lambda: render("../", False))
    w.page(f"digest/{week.label}.email.html", fp + ["email"], lambda: render(base or "../", True))
    w.page("digest/index.html", fp + ["web"], lambda: render("../", False))
