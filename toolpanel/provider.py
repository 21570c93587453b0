"""Open the configured provider (or the bundled local model) as an `LLM`."""

from __future__ import annotations

from contextlib import contextmanager

from toolpanel.config import Settings


@contextmanager
def resolved_settings(settings: Settings):
    """Settings with a reachable base_url: the configured provider, or a started local model server."""
    if not settings.uses_local_model:
        yield settings
        return
    from toolpanel.local_model import local_server
    from toolpanel.prompts import LOCAL_API_KEY
    from toolpanel.takeout import COMPACT_MAX_TOKENS

    with local_server(settings) as base_url:
        # One local server handles one request at a time; more concurrency only queues.
        # LOCAL_API_KEY also tells prompts.profile_for that this is the local model (compact profile).
        yield settings.model_copy(update={"base_url": base_url, "api_key": LOCAL_API_KEY, "concurrency": 1,
                                          "timeout": max(settings.timeout, 300.0),
                                          "max_tokens": COMPACT_MAX_TOKENS})
