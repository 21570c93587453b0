"""Cross-process provider limits: a Prefect global concurrency limit per provider endpoint."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from urllib.parse import urlparse

from toolpanel.config import Settings


def limit_name(settings: Settings) -> str:
    host = urlparse(settings.base_url or "https://api.openai.com/v1").netloc or "local"
    return "toolpanel-llm-" + re.sub(r"[^a-z0-9]+", "-", host.lower()).strip("-")


def server_present() -> bool:
    """Global limits need a real Prefect server (not the throwaway ephemeral one)."""
    return bool(os.environ.get("PREFECT_API_URL"))


async def ensure_limit(settings: Settings) -> str:
    """Create the provider's global concurrency limit if missing (limit = the configured concurrency)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectNotFound

    name = limit_name(settings)
    async with get_client() as client:
        try:
            await client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            try:
                await client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=name, limit=settings.concurrency, active=True))
            except Exception:  # created concurrently by another process
                await client.read_global_concurrency_limit_by_name(name)
    return name


async def global_slot_for(settings: Settings) -> Callable | None:
    """A factory of `async with` slots on the provider's global limit, or None without a server."""
    if not server_present():
        return None
    from prefect.concurrency.asyncio import concurrency

    name = await ensure_limit(settings)
    return lambda: concurrency(name, occupy=1, strict=True)
