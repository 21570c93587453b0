"""The review path's defence against vendor text that addresses the panel (issue 13).

After a tool's takes are in: screening (deterministic), then for a screened tool a differential review
of the neutralised copy (its takes cached like any take under the copy's hash, in a run with trigger
'differential' that never gets a verdict; the copy never enters tool_snapshots), then the take checks.
Everything found is returned as findings for the hold rules and stored with the run.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

from scoring.rules import verdict as score_verdict
from scoring.injection import CLEAR, side_by_side, steering, take_checks
from toolpanel.screening import model as modelscreen
from toolpanel.panel import prompts
from toolpanel.models import Finding, ReviewRequest, Reviewer, Take, Tool
from toolpanel.screening.rules import neutralise, screen
from warehouse.store import TakeInsert
from warehouse.connection import WarehouseBusy
from warehouse.rows import now

DIFFERENTIAL = "differential"


@dataclass
class Checked:
    """What the defence found about one review."""

    findings: list[tuple[str, Finding]] = field(default_factory=list)  # (layer, finding)
    neutral: Tool | None = None
    neutral_takes: list[Take] = field(default_factory=list)
    calls: int = 0  # extra model calls paid for the differential review

    @property
    def plain(self) -> list[Finding]:
        return [f for _, f in self.findings]


async def check(panel: Reviewer, tool: Tool, takes: list[Take], request: ReviewRequest, run_id: str) -> Checked:
    cfg = panel.settings.screening
    out = Checked()
    if not cfg.enabled:
        return out
    screened = screen(tool, cfg.rules)
    screened += await modelscreen.findings(panel, tool, request, run_id, screened)  # [screening] model
    if screened and cfg.differential:
        out.neutral = neutralise(tool, screened)
        out.neutral_takes, out.calls, diff_run = await _differential(panel, out.neutral, takes, request, run_id)
        moved = steering(takes, out.neutral_takes, cfg.steer_points)
        # Screening only decides what to double-check; this review decides what holds (scoring/injection.py).
        out.findings += [("differential", f) for f in moved or [CLEAR]]
        if moved:
            out.findings.append(("differential", side_by_side(score_verdict(tool.slug, takes),
                                                              score_verdict(tool.slug, out.neutral_takes))))
        rows = [{"run_id": run_id, "differential_run_id": diff_run, "slug": tool.slug, "snapshot_hash": tool.snapshot_hash,
                 "neutral_hash": out.neutral.snapshot_hash, "persona_id": t.persona_id, "take_id": t.take_id,
                 "neutral_take_id": n.take_id if n else None,
                 "steered": any(f.field == f"take:{t.persona_id}" for f in moved)}
                for t in takes for n in [next((x for x in out.neutral_takes if x.persona_id == t.persona_id), None)]]
        await panel.commit.run(lambda con: panel.store.add_differential(rows, con))
    out.findings[:0] = [("screening", f) for f in screened]
    try:
        history = await panel.score_history(tool.slug)
    except WarehouseBusy:  # the verdict will be journaled; the outlier check needs history it cannot read now
        history = {}
    out.findings += [("take_check", f) for f in take_checks(takes, history, unanimous=cfg.unanimous_score,
                                                            unanimous_low=cfg.unanimous_low_score,
                                                            sd=cfg.outlier_sd, min_takes=cfg.outlier_min_takes)]
    return out


async def _differential(panel: Reviewer, neutral: Tool, original: list[Take], request: ReviewRequest,
                        run_id: str) -> tuple[list[Take], int, str]:
    """The same personas and models on the neutralised copy; cached takes are reused, never paid twice."""
    personas = [p for p in panel.personas if p.id in {t.persona_id for t in original}]
    models = {t.persona_id: t.model for t in original}
    keys = {p.id: (neutral.snapshot_hash, p.version, panel.prompt_hash, models[p.id]) for p in personas}
    cached = {} if request.force else await panel.commit.run(
        lambda con: panel.store.cached_takes(list(keys.values()), con))
    hits = {pid: cached[k] for pid, k in keys.items() if k in cached}

    def begin(con) -> str:
        rid = panel.store.start_run(
            tool=neutral, trigger=DIFFERENTIAL, reason=f"differential review of run {run_id}", forced=request.force,
            prompt_hash=panel.prompt_hash, persona_versions={p.id: p.version for p in personas}, models=models,
            flow_run_id=request.flow_run_id, settings={"of_run": run_id}, con=con)
        if hits:
            panel.store.link_cached(rid, hits.values(), con)
        return rid

    diff_run = await panel.commit.run(begin)
    shared = prompts.shared_messages(panel.settings.prompts_dir, neutral, prompts.new_marker(), panel.personas,
                                     panel.profile)
    missing = [p for p in personas if p.id not in hits]
    fresh = list(await asyncio.gather(*(panel.unstored_take(neutral, p, shared, models[p.id]) for p in missing)))
    if fresh:
        await panel.commit.run(TakeInsert(panel.store, [(diff_run, t) for t in fresh]))
    by_id = {**hits, **{t.persona_id: t for t in fresh}}
    takes = [by_id[p.id] for p in personas]

    def finish(con) -> None:
        con.execute("INSERT INTO run_results VALUES (?, ?, ?, ?, ?)", [diff_run, DIFFERENTIAL, now(), len(fresh), len(hits)])

    await panel.commit.run(finish)
    return takes, len(fresh), diff_run


_MD = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


def _md(text: str) -> str:
    """Vendor and model text is data: one line, Markdown and HTML characters escaped."""
    return _MD.sub(r"\\\1", " ".join(str(text).split()))


def markdown(result) -> str:
    """The findings and the hold of one review, for its Prefect artifact ('' when there is nothing)."""
    if not result.findings and not result.held:
        return ""
    lines = ["", "### Vendor text and steering checks", ""]
    lines += [f"- **held**: {_md(r)}" for r in result.held]
    lines += [f"- {_md(f.rule)} · {_md(f.field)}: {_md(f.span[:200])}" for f in result.findings]
    if result.differential_calls:
        lines.append(f"- differential review of the neutralised copy: {result.differential_calls} extra calls")
    return "\n".join(lines) + "\n"
