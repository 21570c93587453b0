"""The one summary of a batch (CLI line, `--json`, flow artifacts) and the exit code it implies."""

from __future__ import annotations

from pydantic import BaseModel

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
    held: int = 0  # verdicts waiting for an editor (success: exit 0)
    journaled_takes: int = 0  # paid takes kept in TOOLPANEL_HOME/journal because the warehouse was held
    warehouse_busy: bool = False  # another process held the warehouse past the lock wait
    cost_usd: float | None = 0.0  # None when a paid model has no price configured

    @classmethod
    def of(cls, results: list, *, rejected: int = 0, requests: int = 0, held: int = 0, journaled_takes: int = 0,
           warehouse_busy: bool = False) -> "RunSummary":
        """The summary of a batch's results (ReviewResult or the exception a tool's review raised)."""
        done = [r for r in results if not isinstance(r, BaseException)]
        fresh = [t for r in done for t in r.takes if t.take_id in r.paid_ids]
        costs = [r.cost for r in done if r.paid_calls]
        return cls(
            reviewed=len(done), rejected=rejected, errored=len(results) - len(done), requests=requests,
            paid_takes=sum(1 for t in fresh if t.status != "failed"),
            cached_takes=sum(r.cached_takes for r in done),
            failed_takes=sum(1 for t in fresh if t.status == "failed"),
            # Quorum missed because takes failed; a panel that abstained is a complete answer.
            incomplete_verdicts=sum(1 for r in done if not r.verdict.quorum_met and r.verdict.failed_count),
            held=held, journaled_takes=journaled_takes, warehouse_busy=warehouse_busy,
            cost_usd=None if any(c is None for c in costs) else round(sum(costs), 6))

    @property
    def exit_code(self) -> ExitCode:
        """4 beats 3 beats 1: a held warehouse explains missing verdicts; a provider outage matters more
        than a bad card (docs/exit-codes.md)."""
        if self.warehouse_busy:
            return ExitCode.WAREHOUSE_BUSY
        if self.incomplete_verdicts or self.errored:
            return ExitCode.PROVIDER
        if self.rejected:
            return ExitCode.REJECTED
        return ExitCode.OK

    def line(self) -> str:
        cost = "unknown (no price configured)" if self.cost_usd is None else f"${self.cost_usd:.4f}"
        parts = [f"{self.reviewed} reviewed", f"{self.rejected} rejected", f"{self.errored} failed",
                 f"{self.held} held", f"{self.incomplete_verdicts} incomplete"]
        return (", ".join(parts) + f" · {self.requests} requests, {self.paid_takes} paid takes, "
                f"{self.cached_takes} cached takes, {self.failed_takes} failed takes · cost {cost}")
