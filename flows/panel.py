"""The panel a flow reviews with: personas checked by name, provider slots shared across flows."""

from __future__ import annotations

import contextlib

from flows.limits import provider_slots
from toolpanel.config import Settings
from toolpanel.panel.personas import load_personas
from toolpanel.panel.provider import resolved_settings
from toolpanel.panel.batch import open_panel


@contextlib.asynccontextmanager
async def flow_panel(settings: Settings, n_tools: int, persona_ids: list[str] | None = None, *, editor: bool):
    load_personas(settings.personas_dir, persona_ids or None)  # unknown persona ids fail here, by name
    personas = load_personas(settings.personas_dir)  # the prompt describes the whole panel either way
    with resolved_settings(settings) as live:
        # Prefect retries the task; the client does not retry too, so the two layers never multiply.
        live = live.model_copy(update={"max_retries": 0})
        async with provider_slots(live, n_tools * len(persona_ids or personas), editor=editor) as slots:
            async with open_panel(live, personas, concurrency=slots) as panel:
                yield panel
