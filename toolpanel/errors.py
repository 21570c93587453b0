"""One error type for every problem a user must act on, and the one exit-code table.

Every user-facing error is a `ToolpanelError`: what is wrong (`problem`), how to fix it (`fix`), and
where (`file`, `field`) when there is a place. Later stages add their errors by raising it (or a
subclass), never a new family. The CLI, the flows and the summaries all print `str(error)`.

A few exceptions are internal signals, caught inside toolpanel and never shown to a user as such; they are
listed in INTERNAL_SIGNALS (tests/test_structure.py holds every other exception class to ToolpanelError).
"""

from __future__ import annotations

from enum import IntEnum

MESSAGE_CAP = 500  # characters: a rejection line and its stored row are never longer

INTERNAL_SIGNALS = {
    "toolpanel.panel.review.TransientFailure": "a persona's take failed transiently: the orchestrator retries",
    "toolpanel.panel.budget.BudgetStopped": "a [budget] cap stopped a review: the tool stays pending (exit 5)",
    "toolpanel.panel.take.InvalidOutput": "a reply that cannot be a take: fed to the repair call",
    "toolpanel.screening.model.Unusable": "the model screen's reply was unusable: the rules alone decide",
    "toolpanel.panel.chair.Rejected": "the chair's reply failed a check: stored as a failed summary, the verdict stands",
    "toolpanel.ingest.cardyaml._Refused": "inside the YAML loader: becomes a CardError with its line",
}


class ExitCode(IntEnum):
    """What a command's exit status means (documented in docs/exit-codes.md)."""

    OK = 0  # everything asked for was done (a held verdict counts as done)
    REJECTED = 1  # some input was rejected; the rest was processed
    CONFIG = 2  # unusable configuration or arguments: nothing was done
    PROVIDER = 3  # some tool ended without a complete verdict because the provider failed
    WAREHOUSE_BUSY = 4  # another process held the warehouse past the lock wait; paid work is in the journal
    BUDGET = 5  # a [budget] cap was reached: some tools were left pending (nothing half-done published)


def shorten(text: str, limit: int = MESSAGE_CAP) -> str:
    """One line, at most `limit` characters (an ellipsis marks the cut)."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def quote(value: object, limit: int = 80) -> str:
    """A user's value inside a message: quoted, one line, at most `limit` characters (never the whole input)."""
    return f"'{shorten(value if isinstance(value, str) else repr(value), limit)}'"


class ToolpanelError(Exception):
    """A problem the user can fix: where it is, what is wrong, and the fix."""

    code: ExitCode = ExitCode.REJECTED

    def __init__(self, problem: str, fix: str = "", *, file: str | None = None, field: str | None = None,
                 code: ExitCode | None = None):
        self.problem, self.fix, self.file, self.field = problem, fix, file, field
        if code is not None:
            self.code = code
        super().__init__(str(self))

    @property
    def where(self) -> str:
        if self.field and ", " in self.field:
            fields = "fields " + ", ".join(f"'{f}'" for f in self.field.split(", "))
        else:
            fields = f"field '{self.field}'" if self.field else ""
        return ": ".join(x for x in (self.file, fields) if x)

    def message(self, cap: int = MESSAGE_CAP) -> str:
        """The one line a user sees, at most `cap` characters."""
        head = ": ".join(x for x in (self.where, self.problem) if x)
        return shorten(f"{head} — {self.fix}" if self.fix else head, cap)

    def __str__(self) -> str:
        return self.message()

    def to_json(self) -> dict:
        return {"file": self.file, "field": self.field, "problem": shorten(self.problem), "fix": shorten(self.fix),
                "message": str(self)}


class ConfigError(ToolpanelError):
    """Unusable configuration: nothing can run until it is fixed (exit 2)."""

    code = ExitCode.CONFIG
