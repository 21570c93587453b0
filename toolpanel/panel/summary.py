"""The one summary of a batch (CLI line, `--json`, flow artifacts) and the exit code it implies.

One record behind every line: `RunSummary.of` builds a `ToolCounts` per tool once; each tool's block prints
its record's `line()`, and the summary's totals are sums over the same records, in the same words.
A take "asked" is one the model was asked for in this run (a provider may bill it even when it failed):
it came back "answered" (a score or an abstention) or "failed". "Cached" takes were reused, not asked.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from toolpanel.panel.budget import BudgetStopped
from toolpanel.errors import ExitCode


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def takes_phrase(asked: int, answered: int, failed: int, cached: int) -> str:
    """The words for take counts, the same in a tool's block and in the summary."""
    return f"{plural(asked, 'take')} asked ({answered} answered, {failed} failed) · {plural(cached, 'take')} cached"


class ToolCounts(BaseModel):
    """One tool's part of a batch: what its block prints and what the summary adds up."""

    slug: str
    outcome: str  # reviewed | failed | pending (budget)
    asked: int = 0  # takes the model was asked for in this run
    answered: int = 0  # of those, takes that came back (a score or an abstention)
    failed: int = 0  # of those, takes that failed
    cached: int = 0  # takes reused from the warehouse (not asked)
    held: bool = False  # a complete verdict waits for an editor (a hold decision exists)
    flagged: bool = False  # the hold rules flagged an incomplete verdict: nothing was held or published
    incomplete: bool = False  # no quorum because takes failed
    without_quorum: bool = False  # no quorum because too many personas abstained (not a failure)
    short_panel: bool = False  # a partial re-review's other personas had no current take to carry (issue 22)

    @classmethod
    def of(cls, result, slug: str | None = None) -> "ToolCounts":
        """A tool's record from its ReviewResult, or from the exception its review raised."""
        stopped = isinstance(result, BudgetStopped)
        r = result.result if stopped else None if isinstance(result, BaseException) else result
        slug = (r.tool.slug if r is not None else getattr(result, "slug", None)) or slug or "?"
        outcome = "pending (budget)" if stopped else "failed" if isinstance(result, BaseException) else "reviewed"
        if r is None:
            return cls(slug=slug, outcome=outcome)
        fresh = [t for t in r.every_take if t.take_id in r.paid_ids]  # both rounds of a deliberating panel
        failed = sum(1 for t in fresh if t.status == "failed")
        counts = cls(slug=slug, outcome=outcome, asked=len(fresh), answered=len(fresh) - failed, failed=failed,
                     cached=r.cached_takes)
        if outcome == "reviewed":
            v = r.verdict
            counts.held, counts.flagged = bool(r.held) and v.quorum_met, bool(r.held) and not v.quorum_met
            counts.incomplete = not v.quorum_met and bool(v.failed_count)
            counts.without_quorum = not v.quorum_met and not v.failed_count and not v.missing
            counts.short_panel = not v.quorum_met and not v.failed_count and bool(v.missing)
        return counts

    def line(self) -> str:
        return takes_phrase(self.asked, self.answered, self.failed, self.cached)


class RunSummary(BaseModel):
    """What a batch did. Counts are of tools unless they say takes or requests."""

    reviewed: int = 0  # tools whose review finished (with or without a complete verdict)
    rejected: int = 0  # inputs refused before review (one line each)
    errored: int = 0  # tools whose review stopped with an error
    requests: int = 0  # provider requests sent, retries and repair calls included
    paid_takes: int = 0  # kept for --json readers: takes asked in this run that came back (= answered)
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
    asked_takes: int = 0  # takes the model was asked for in this run: paid_takes + failed_takes
    per_tool: list[ToolCounts] = Field(default_factory=list)  # the records every line is printed from

    @classmethod
    def of(cls, results: list, *, rejected: int = 0, requests: int = 0, journaled_takes: int = 0,
           warehouse_busy: bool = False, slugs: list[str] | None = None) -> "RunSummary":
        """The summary of a batch's results (ReviewResult or the exception a tool's review raised); `slugs`
        names the tools in the same order, for a review that raised before it had a result."""
        tools = [ToolCounts.of(r, slugs[i] if slugs and i < len(slugs) else None) for i, r in enumerate(results)]
        stopped = [r for r in results if isinstance(r, BudgetStopped)]
        paid = [r for r in results if not isinstance(r, BaseException)]
        paid += [s.result for s in stopped if s.result is not None]  # takes paid before a stop count too
        costs = [r.cost for r in paid if r.paid_calls]
        done = [t for t in tools if t.outcome == "reviewed"]
        return cls(
            reviewed=len(done), rejected=rejected, errored=sum(1 for t in tools if t.outcome == "failed"),
            requests=requests, asked_takes=sum(t.asked for t in tools), paid_takes=sum(t.answered for t in tools),
            cached_takes=sum(t.cached for t in tools), failed_takes=sum(t.failed for t in tools),
            incomplete_verdicts=sum(t.incomplete for t in done), without_quorum=sum(t.without_quorum for t in done),
            short_panel=sum(t.short_panel for t in done), held=sum(t.held for t in done),
            journaled_takes=journaled_takes, warehouse_busy=warehouse_busy,
            budget_stopped=len(stopped), budget_cap=stopped[0].reason if stopped else None,
            cost_usd=None if any(c is None for c in costs) else round(sum(costs), 6), per_tool=tools)

    def counts(self, slug: str) -> ToolCounts | None:
        """The record a tool's block is printed from (the first, should a batch name a tool twice)."""
        return next((t for t in self.per_tool if t.slug == slug), None)

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

    def tools_phrase(self) -> str:
        """e.g. "1 tool reviewed (1 held, 0 incomplete) · 0 tools failed": every count here is of tools."""
        of_reviewed = [f"{self.held} held", f"{self.incomplete_verdicts} incomplete"]
        if self.without_quorum:  # said, so "0 incomplete" never sits beside a tool shown as Incomplete
            of_reviewed.append(f"{self.without_quorum} without quorum: too many abstained")
        if self.short_panel:
            of_reviewed.append(f"{self.short_panel} without quorum: personas not asked had no current take to "
                               "carry, re-review the whole panel")
        return (f"{plural(self.reviewed, 'tool')} reviewed ({', '.join(of_reviewed)}) · "
                f"{plural(self.errored, 'tool')} failed")

    def takes_phrase(self) -> str:
        return takes_phrase(self.asked_takes, self.paid_takes, self.failed_takes, self.cached_takes)

    def line(self) -> str:
        cost = "unknown (no price configured)" if self.cost_usd is None else f"${self.cost_usd:.4f}"
        line = (f"{self.tools_phrase()} · {plural(self.rejected, 'input')} rejected · {self.takes_phrase()} · "
                f"{plural(self.requests, 'request')} · cost {cost}")
        if self.budget_stopped:
            n = self.budget_stopped
            line += f" · budget: {self.budget_cap}; {plural(n, 'tool')} left pending for the next run, none half-done"
        return line
