"""What the flows show an editor in the Prefect UI: scorecards with their run context, summaries, page links.

Pure text builders (no Prefect): the flows create the artifacts. Editor text (a reason) and model or
vendor text are data: every cell goes through `scorecard.md_cell`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from scoring import rules

from toolpanel import scorecard
from toolpanel.config import Settings
from toolpanel.models import Persona, Take, Tool, Verdict
from toolpanel.panel.summary import RunSummary


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
                    *, trigger: str, reason: str, published: bool, summary=None) -> str:
    """The seed-style scorecard, with why, when and with which models it was run, and where it is published;
    with the chair's `summary` record (toolpanel.summaries.SummaryRecord), the panel summary or why there is none."""
    card = scorecard.markdown(tool, verdict, takes, personas, summary)
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


def summary_markdown(title: str, rows: list[tuple[str, str]], outcomes: list[Markdown] = ()) -> str:
    """A run summary: a heading and a two-column table (plain values are escaped, `Markdown` ones kept), then
    what became of each tool as a list (long lines wrap there; in a table cell they ran off the page)."""
    lines = [f"# {title}", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v if isinstance(v, Markdown) else scorecard.md_cell(str(v))} |" for k, v in rows]
    if outcomes:
        lines += ["", "## Outcome", "", *(f"- {o}" for o in outcomes)]
    return "\n".join(lines)


def cost(run: RunSummary) -> str:
    return "unknown (no price configured)" if run.cost_usd is None else f"${run.cost_usd:.4f}"


@dataclass
class Outcome:
    """What became of one tool's review, told where the editor is (the run's log and summary artifact)."""

    slug: str
    kind: str  # published | held | incomplete | unchanged | pending | failed
    what: str  # plain words
    markdown: Markdown  # the same, with links, for an artifact

    @property
    def text(self) -> str:
        """The log line."""
        return f"{self.slug}: {self.what}"


def outcome(settings: Settings, tool: Tool, result, site_published: bool, queue_run=None) -> Outcome:
    """The one reading of a review's result: published (with the page), held (the reasons and the
    review-queue run that holds it), incomplete (what is missing), unchanged, pending (budget) or failed."""
    from toolpanel.panel.budget import BudgetStopped

    name = scorecard.md_cell(tool.name)
    if isinstance(result, BudgetStopped):
        kind, text = "pending", f"pending: {result.reason}; reviewed by the next run"
    elif isinstance(result, BaseException):
        kind, text = "failed", f"failed: {result}"
    elif not result.verdict.quorum_met:
        kind, text = "incomplete", (f"incomplete, nothing published: {rules.shortfall(result.verdict)}; "
                                    "the page keeps the published verdict")
    elif result.run_id is None:
        kind, text = "unchanged", f"unchanged: {result.verdict.label} from the same takes is already on record"
    elif result.held:
        where = (f"review-queue run {queue_run.name}" if queue_run is not None
                 else "the review queue (toolpanel queue; no review-queue run could be started)")
        kind, text = "held", (f"held for an editor: {result.verdict.label}; {'; '.join(result.held)} — "
                              f"it waits in {where}")
    else:
        kind, text = "published", f"published: {result.verdict.label}, ship {scorecard.ship_pct_label(result.verdict)}"
    carried = getattr(getattr(result, "verdict", None), "carried", None)
    if carried and kind in ("published", "held", "unchanged"):
        text += f" (carried {', '.join(c.persona_id for c in carried)} from run {carried[0].from_run_id})"
    md = f"{name}: {scorecard.md_cell(text)}"
    if kind == "published":
        md += f" — {link(settings, tool.slug)}" if site_published else " — the site was not re-rendered (publish off)"
    if kind == "held" and queue_run is not None and queue_run.url:
        md += f" — [open the review-queue form]({queue_run.url})"
    return Outcome(tool.slug, kind, text, Markdown(md))


def verdict_lines(settings: Settings, tools: list[Tool], results: list, published: bool,
                  queue_run=None) -> list[Markdown]:
    """One line per tool for a summary: what became of its review, with its page or its review-queue run."""
    return [outcome(settings, t, r, published, queue_run).markdown for t, r in zip(tools, results)]
