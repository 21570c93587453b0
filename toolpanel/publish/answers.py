"""Which comparison pages get the chair's answer, and when (issue 27; docs/panel.md).

After a review run (`toolpanel review`, the daily and re-review flows), the site's pairs (the editor's
`[publish] pairs`, then each category's recent tools: site.comparison_pairs) whose two published verdicts the
chair has not been asked about yet, the pairs of the run's own tools first, at most `[panel] pair_answers` a run.
Each answer is one budgeted chair call (toolpanel/panel/pairs.py), stored in pair_answers; the next publish
shows it. A failed answer is asked again only when one of its two verdicts changes. Publishing never calls a
model: a pair without an answer shows the verdicts' answer and each panel's own.
"""

from __future__ import annotations

from toolpanel.models import Reviewer, ReviewRequest
from toolpanel.panel import chair, pairs
from toolpanel.panel.batch import for_each
from toolpanel.publish.data import load_pages, load_site_data
from toolpanel.publish.site import comparison_pairs
from toolpanel.summaries import PairRecord
from warehouse import pairs as stored
from warehouse.connection import WarehouseBusy

LATER = "the next review run writes them"


async def answer_pairs(panel: Reviewer, request: ReviewRequest, slugs: list[str]) -> list[PairRecord]:
    """Write the answers the site's pairs are missing (the pairs of `slugs` first); returns the records stored."""
    settings = panel.settings
    limit = settings.panel.pair_answers
    if not limit or not chair.wanted(settings, panel.profile) or not settings.warehouse_path.exists():
        return []
    try:
        todo = await panel.commit.run(lambda con: _missing(con, settings, panel.personas, set(slugs), limit))
    except WarehouseBusy:
        panel.llm.notes.append(f"comparison answers: the warehouse is held; {LATER}")
        return []
    got = await for_each(todo, lambda pair: pairs.answer(panel, request, *pair),
                         one_at_a_time=getattr(panel, "concurrency", 1) == 1)
    records = [r for r in got if isinstance(r, PairRecord)]
    for (a, b), r in zip(todo, got):
        if not isinstance(r, PairRecord):  # a bug, not a provider's failure (those are failed records)
            panel.llm.notes.append(f"pair answer: {a.tool.slug} vs {b.tool.slug}: {r!r}; {LATER}")
    if records:
        try:
            await panel.commit.run(lambda con: stored.insert(con, records))
        except WarehouseBusy:
            panel.llm.notes.append(f"comparison answers: the warehouse is held, {len(records)} not stored; {LATER}")
            return []
    return records


def pair_answers_line(records: list[PairRecord]) -> str:
    """One line for the run's output: 'comparison answers: 2 written, 1 failed (a vs b: why)'."""
    failed = [r for r in records if r.status != "ok"]
    why = "; ".join(f"{r.slugs[0]} vs {r.slugs[1]}: {r.error}" for r in failed[:3])
    return (f"comparison answers: {len(records) - len(failed)} written, {len(failed)} failed"
            + (f" ({why})" if why else ""))


def _missing(con, settings, personas, first: set[str], limit: int) -> list[tuple[pairs.Side, pairs.Side]]:
    """The pairs to answer now: both verdicts published, never asked about, the run's tools first, `limit` at most."""
    data = load_site_data(con, personas, stale_run_minutes=settings.flows.stale_run_minutes)
    site_pairs, _ = comparison_pairs(data, settings.publish.pairs)
    current = {slug: t.history[-1].verdict_id for slug, t in data.tools.items() if t.verdict is not None}
    asked = stored.asked(con)
    todo = [(a, b) for a, b in site_pairs
            if a in current and b in current and frozenset((current[a], current[b])) not in asked]
    todo = sorted(todo, key=lambda p: not (p[0] in first or p[1] in first))[:limit]  # stable: site order kept
    pages = load_pages(con, data.tools, sorted({s for p in todo for s in p}))
    return [tuple(pairs.Side(tool=pages[s].tool, verdict=pages[s].verdict, verdict_id=current[s],
                             takes=list(pages[s].takes.values())) for s in (a, b)) for a, b in todo]
