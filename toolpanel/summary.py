"""The one summary of a batch (CLI line, `--json`, flow artifacts) and the exit code it implies."""

from __future__ import annotations

from pydantic import BaseModel

from toolpanel.budget import BudgetStopped
from toolpanel.errors import ExitCode


class RunSummary(BaseModel):
    """What a batch did. Counts are of tools unless they say takes or requests."""

    reviewed: int = 0  # tools whose review finished (with or without a complete verdict)
    rejected: int = 0  # inputs refused before review (one line each)
    errored: int = 0  # tools whose review stopped with an error
    requests: int = 0  # provider requests sent, retries and repair calls included
    paid_takes: int = 0
    cached_takes: int = 0
    failed_takes: int = 0
    incomplete_verdicts: int = 0  # tools left without quorum because takes failed
    without_quorum: int = 0  # tools left without quorum because too many personas abstained (not a failure)
    # A partial re-review left without quorum because other personas had no current take to carry (issue 22)
    short_panel: int = 0
    held: int = 0  # verdicts waiting for an editor (success: exit 0)
    journaled_takes: int = 0  # paid takes kept in TOOLPANEL_HOME/journal because the warehouse was held
    warehouse_busy: bool = False  # another process held the warehouse past the lock wait
    cost_usd: float | None = 0.0  # None when a paid model has no price configured
    budget_stopped: int = 0  # tools left pending because a [budget] cap was reached (no verdict, none half-done)
    budget_cap: str | None = None  # the cap that stopped the run, e.g. "per_run_usd = 0.05 reached (...)"

    @classmethod
    def of(cls, results: list, *, rejected: int = 0, requests: int = 0, journaled_takes: int = 0,
           warehouse_busy: bool = False) -> "RunSummary":
        """The summary of a batch's results (ReviewResult or the exception a tool's review raised)."""
        done = [r for r in results if not isinstance(r, BaseException)]
        stopped = [r for r in results if isinstance(r, BudgetStopped)]
        paid = done + [s.result for s in stopped if s.result is not None]  # takes paid before a stop count too
        fresh = [t for r in paid for t in r.takes if t.take_id in r.paid_ids]
        costs = [r.cost for r in paid if r.paid_calls]
        return cls(
            reviewed=len(done), rejected=rejected, errored=len(results) - len(done) - len(stopped), requests=requests,
            paid_takes=sum(1 for t in fresh if t.status != "failed"),
            cached_takes=sum(r.cached_takes for r in paid),
            failed_takes=sum(1 for t in fresh if t.status == "failed"),
            # Quorum missed because takes failed; a panel that abstained is a complete answer.
            incomplete_verdicts=sum(1 for r in done if not r.verdict.quorum_met and r.verdict.failed_count),
            without_quorum=sum(1 for r in done if not r.verdict.quorum_met and not r.verdict.failed_count
                               and not r.verdict.missing),
            short_panel=sum(1 for r in done if not r.verdict.quorum_met and not r.verdict.failed_count
                            and r.verdict.missing),
            held=sum(1 for r in done if r.held and r.verdict.quorum_met), journaled_takes=journaled_takes, warehouse_busy=warehouse_busy,
            budget_stopped=len(stopped), budget_cap=stopped[0].reason if stopped else None,
            cost_usd=None if any(c is None for c in costs) else round(sum(costs), 6))

    @property
    def exit_code(self) -> ExitCode:
        """4 beats 3 beats 5 beats 1: a held warehouse explains missing verdicts; a provider outage matters
        more than a configured stop, and that more than a bad card (docs/exit-codes.md)."""
        if self.warehouse_busy:
            return ExitCode.WAREHOUSE_BUSY
        if self.incomplete_verdicts or self.errored:
            return ExitCode.PROVIDER
        if self.budget_stopped:
            return ExitCode.BUDGET
        if self.rejected:
            return ExitCode.REJECTED
        return ExitCode.OK

    def line(self) -> str:
        cost = "unknown (no price configured)" if self.cost_usd is None else f"${self.cost_usd:.4f}"
        parts = [f"{self.reviewed} reviewed", f"{self.rejected} rejected", f"{self.errored} failed",
                 f"{self.held} held", f"{self.incomplete_verdicts} incomplete"]
        if self.without_quorum:  # said, so "0 incomplete" never sits beside a tool shown as Incomplete
            parts.append(f"{self.without_quorum} without quorum (too many abstained)")
        if self.short_panel:
            parts.append(f"{self.short_panel} without quorum (personas not asked had no current take to carry: "
                         "re-review the whole panel)")
        line = (", ".join(parts) + f" · {self.requests} requests, {self.paid_takes} paid takes, "
                f"{self.cached_takes} cached takes, {self.failed_takes} failed takes · cost {cost}")
        if self.budget_stopped:
            n = self.budget_stopped
            line += (f" · budget: {self.budget_cap}; {n} tool{'s' if n != 1 else ''} left pending for the next run, "
                     "none half-done")
        return line
