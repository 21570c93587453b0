"""The re-review form's fields as Prefect shows them: persona choices, non-blank text, titles."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints

from toolpanel.config import load_settings
from toolpanel.errors import ToolpanelError
from toolpanel.panel.personas import load_personas


def persona_ids() -> list[str]:
    """The ids the re-review form offers: the configured personas directory's personas, in display order.

    Read whenever the form's schema is made (when `toolpanel serve` deploys the flow) and whenever a run checks
    its parameters, so a persona file added to personas_dir is a choice without a code change. [] when the
    settings or the personas are broken: the form then takes any id, and the run reports the problem by name."""
    try:
        return [p.id for p in load_personas(load_settings().personas_dir)]
    except (ToolpanelError, OSError):  # PersonaError and ConfigError are ToolpanelErrors
        return []


def _known(persona_id: str) -> str:
    ids = persona_ids()
    if ids and persona_id not in ids:
        raise ValueError(f"unknown persona '{persona_id}' — choose from {', '.join(ids)}")
    return persona_id


class _Choices:
    """The personas as the JSON schema's enum: the Prefect UI shows them as a pick list, and the UI and the API
    refuse any other id before a run is created."""

    @staticmethod
    def __get_pydantic_json_schema__(core_schema, handler) -> dict:
        schema = handler(core_schema)
        ids = persona_ids()
        return {"enum": ids, **schema} if ids else schema


PersonaId = Annotated[str, AfterValidator(_known), _Choices()]
# Strip, then refuse blanks: `pattern` reaches the form's JSON schema, so the UI and the API refuse
# a whitespace-only value before a run is created; pydantic strips and checks again in the run.
NotBlank = StringConstraints(strip_whitespace=True, pattern=r"\S")


def form(title: str, **constraints) -> Any:
    """A form field's title (Prefect titles parameters by name; descriptions come from the docstring)."""
    return Field(json_schema_extra={"title": title}, **constraints)
