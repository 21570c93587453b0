"""What the flows show an editor in the Prefect UI: scorecards with their run context, summaries, page links.

Pure text builders (no Prefect): the flows create the artifacts. Editor text (a reason) and model or
vendor text are data: every cell goes through `scorecard.md_cell`.
"""

from __future__ import annotations

import datetime as dt

from toolpanel import scorecard
from toolpanel.config import Settings
from toolpanel.models import Persona, Take, Tool, Verdict
from toolpanel.summary import RunSummary


def now_label() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def page_url(settings: Settings, slug: str) -> str:
    """The tool's published page: under `[publish] base_url` when set, else a file:// path in the site dir."""
    if settings.publish.root:
        return settings.publish.root + f"tools/{slug}.html"
    return (settings.site_dir / "tools" / f"{slug}.html").resolve().as_uri()


def link(settings: Settings, slug: str) -> "Markdown":
    """A Markdown link to the tool's page (its text is the slug, which the card validated)."""
    return Markdown(f"[tools/{slug}.html]({page_url(settings, slug)})")


def models_label(takes: list[Take]) -> str:
    return ", ".join(sorted({t.model for t in takes})) or "—"


def review_markdown(settings: Settings, tool: Tool, verdict: Verdict, takes: list[Take], personas: list[Persona],
                    *, trigger: str, reason: str, published: bool) -> str:
    """The seed-style scorecard, with why, when and with which models it was run, and where it is published."""
    card = scorecard.markdown(tool, verdict, takes, personas)
    title, _, rest = card.partition("\n")
    page = link(settings, tool.slug) if published else "not published by this run"
    context = ["", "| This review | |", "|---|---|",
               f"| Trigger | {scorecard.md_cell(trigger)} |",
               f"| Reason | {scorecard.md_cell(reason)} |",
               f"| Models | {scorecard.md_cell(models_label(takes))} |",
               f"| Date | {now_label()} |",
               f"| Page | {page} |"]
    return "\n".join([title, *context, rest])


class Markdown(str):
    """Markdown built here (links to pages), as opposed to text that must be escaped."""


def summary_markdown(title: str, rows: list[tuple[str, str]]) -> str:
    """A run summary: a heading and a two-column table; plain values are escaped, `Markdown` ones kept."""
    lines = [f"# {title}", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v if isinstance(v, Markdown) else scorecard.md_cell(str(v))} |" for k, v in rows]
    return "\n".join(lines)


def cost(run: RunSummary) -> str:
    return "unknown (no price configured)" if run.cost_usd is None else f"${run.cost_usd:.4f}"


def verdict_lines(settings: Settings, tools: list[Tool], results: list, published: bool) -> Markdown:
    """One line per tool for a summary: its verdict (or failure) and a link to its page."""
    lines = []
    for t, r in zip(tools, results):
        page = f" — {link(settings, t.slug)}" if published else ""
        what = (f"{r.verdict.label}, ship {scorecard.ship_pct_label(r.verdict)}" if not isinstance(r, BaseException)
                else f"failed: {r}")
        lines.append(f"{scorecard.md_cell(t.name)}: {scorecard.md_cell(what)}{page}")
    return Markdown("; ".join(lines) or "—")
