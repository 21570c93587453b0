"""Seed-style scorecard wording, shared by the terminal, Prefect artifacts and the site."""

from __future__ import annotations

from toolpanel import flags as take_flags
from scoring.band import band
from toolpanel.models import Persona, Take, Tool, Verdict, pct
from toolpanel.summaries import PanelSummary, SummaryPoint, SummaryRecord
from toolpanel.panel.take import QUOTE_MAX, dedupe_quotes
from toolpanel.text import md_escape

NO_TAKE = "No panel take"
NO_SUMMARY = "No panel summary was written for this verdict."


def verdict_label(v: Verdict | None) -> str:
    return "No verdict yet" if v is None else v.label


def band_label(v: Verdict | None, takes: list[Take] = ()) -> str:
    """The confidence band beside a verdict, e.g. 'Clear · 3 of 5 voices' (scoring/band.py); '—' without one."""
    return "—" if v is None else band(v, takes).label


def with_band(label: str, band: str | None) -> str:
    """A verdict with its confidence band, as every line shows it (feeds, digest, newsletter, queue):
    'Ship · 3 ship / 1 skip (Clear · 4 of 5 voices)'; '(—)' when the verdict has no band."""
    return f"{label} ({band or '—'})"


def cited(point: SummaryPoint, personas: list[Persona], tools: dict[str, str] | None = None) -> str:
    """Who a summary point rests on, by name: 'Builder (ship), Skeptic (skip)'; in a comparison's answer
    (`tools`: slug -> name) with the tool each reviewed: 'Builder on Foo (ship)'."""
    return ", ".join(f"{persona_name(c.reviewer, personas)}"
                     + (f" on {tools.get(c.tool, c.tool)}" if tools and c.tool else "") + f" ({c.stance})"
                     for c in point.reviewers)


def point_line(point: SummaryPoint, personas: list[Persona], tools: dict[str, str] | None = None) -> str:
    """A point and who it rests on, in one line (model text: the caller escapes it for its medium)."""
    return f"{point.text} — {cited(point, personas, tools)}"


def summary_lines(s: PanelSummary, personas: list[Persona]) -> list[tuple[str, str]]:
    """A panel summary as (heading, line) pairs, in reading order: the answer, agreements, disagreements, blind
    spots. Lines are model text: the caller escapes them for its medium."""
    out = [("Who should ship with it", point_line(s.answer, personas))]
    out += [("Where the panel agrees", point_line(p, personas)) for p in s.agreements]
    out += [("Where it disagrees", f"{d.about}: " + " / ".join(point_line(p, personas) for p in d.sides))
            for d in s.disagreements]
    return out + [("What no reviewer covered", b) for b in s.blind_spots]


def ship_pct_label(v: Verdict | None) -> str:
    return pct(None) if v is None else v.ship_pct_label


def take_label(t: Take | None) -> str:
    """'85/100 · ship', '85/100 · ship (flagged: quote not in the card)', 'No panel take', or 'Failed (reason)'."""
    if t is None or t.status == "abstained":
        return NO_TAKE
    if t.status == "failed":
        return f"Failed ({t.error_class})"
    return f"{t.score}/100 · {t.verdict}" + flag_suffix(t)


def flag_suffix(t: Take) -> str:
    shown = take_flags.labels(t.flags)
    return f" (flagged: {'; '.join(shown)})" if shown else ""


def shown_quote(quote: str, limit: int = QUOTE_MAX) -> str:
    """A quote as every view shows it: whole within `limit`; longer, or exactly at the bound a schema may have
    cut it to without ending a sentence, shortened at a word boundary and marked "…" (docs/take.md)."""
    text = " ".join(quote.split())
    if len(text) < limit or (len(text) == limit and text[-1] in ".!?…"):
        return text
    head = text[:limit - 1]
    if text[limit - 1].strip() and " " in head:  # the cut falls inside a word: end at the last whole word
        head = head.rsplit(" ", 1)[0]
    return head.rstrip(" ,;:-–—.…") + "…"


def shown_quotes(evidence: list[str] | None) -> list[str]:
    """A take's quotes as shown: each once (also one inside another), long ones shortened (shown_quote)."""
    return [shown_quote(q) for q in dedupe_quotes(list(evidence or []))]


def persona_name(pid: str, personas: list[Persona]) -> str:
    return next((p.name for p in personas if p.id == pid), pid.capitalize())


def markdown(tool: Tool, verdict: Verdict, takes: list[Take], personas: list[Persona],
             summary: SummaryRecord | None = None) -> str:
    """The scorecard as Markdown (Prefect artifact); with the chair's `summary` record, its panel summary."""
    lines = [f"# {tool.name}", ""]
    if tool.tagline:
        lines += [f"*{tool.tagline}*", ""]
    lines += [
        "| Decision | |", "|---|---|",
        f"| Panel verdict | {verdict_label(verdict)} |",
        f"| Confidence | {band_label(verdict, takes)} |",
        f"| Panel ship | {ship_pct_label(verdict)} |",
        f"| Pricing | {md_cell(tool.pricing)} |",
        f"| Entry | {md_cell(tool.entry)} |",
        f"| Best for | {md_cell(tool.tagline)} |",
        f"| Category | {md_cell(tool.category)} |",
        "",
    ]
    if summary is not None:
        lines += ["## Panel summary", ""]
        if summary.summary is None:
            lines += [f"_{md_escape(NO_SUMMARY)} ({md_escape(summary.error or 'no reason given')})_", ""]
        for head, line in summary_lines(summary.summary, personas) if summary.summary else []:
            lines += [f"- **{head}:** {md_escape(line)}"]
        lines += [""] if summary.summary else []
    lines += ["## Reviewer scorecard", ""]
    carried = {c.take_id: c.from_run_id for c in verdict.carried}
    for t in takes:
        origin = f" · _carried from run {carried[t.take_id]}, not asked again_" if t.take_id in carried else ""
        lines.append(f"**{persona_name(t.persona_id, personas)}** — {take_label(t)}{origin}")
        lines.append("")
        if t.status == "ok" and t.paragraph:
            lines += [md_escape(t.paragraph), ""]
            lines += [f"> “{md_escape(q)}”" for q in shown_quotes(t.evidence)] + ([""] if t.evidence else [])
        elif t.status == "failed" and t.error:
            lines += [f"_{md_escape(t.error)}_", ""]
    return "\n".join(lines)


def md_cell(text: str | None) -> str:
    """Untrusted text as one Markdown table cell (escaped, pipes neutralised)."""
    return md_escape(text or "—").replace("|", "\\|")

