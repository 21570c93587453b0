"""The re-review form's fields as Prefect shows them: persona choices, non-blank text, titles."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, StringConstraints

from toolpanel.sections import REPO_ROOT
from toolpanel.config import load_settings
from toolpanel.errors import ToolpanelError
from toolpanel.panel.personas import PersonaError, load_personas


def _persona_ids() -> tuple[str, ...]:
    """The persona ids the re-review form offers (read when the flow is defined: the form is built from it)."""
    for directory in _persona_dirs():
        try:
            return tuple(p.id for p in load_personas(directory))
        except (PersonaError, OSError):
            continue
    return ("builder", "skeptic", "futurist", "founder", "creator")


def _persona_dirs():
    try:
        yield load_settings().personas_dir
    except ToolpanelError:
        pass
    yield REPO_ROOT / "personas"


PersonaId = Literal[_persona_ids()]  # type: ignore[valid-type]  (a Literal of the configured ids)
# Strip, then refuse blanks: `pattern` reaches the form's JSON schema, so the UI and the API refuse
# a whitespace-only value before a run is created; pydantic strips and checks again in the run.
NotBlank = StringConstraints(strip_whitespace=True, pattern=r"\S")


def form(title: str, **constraints) -> Any:
    """A form field's title (Prefect titles parameters by name; descriptions come from the docstring)."""
    return Field(json_schema_extra={"title": title}, **constraints)
