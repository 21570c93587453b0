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
    cost_usd: float | None = 0.0  # None when a paid model has no price configured

    @property
    def exit_code(self) -> ExitCode:
        """3 beats 1: a provider outage matters more than a bad card (docs/exit-codes.md)."""
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
