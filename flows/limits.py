"""Cross-process provider limits: a Prefect global concurrency limit per provider endpoint.

Measured here (`prefect server` on SQLite): one slot acquire+release costs ~76 ms uncontended and
~90 ms server-serialised under load, and waiting acquirers poll with multi-second backoff. Per model
call that would dominate a batch, so a flow run leases its slots once, for the whole run, and sizes
its in-process cap to them. The daily run leaves `editor_reserve` slots free so an editor's
re-review never queues behind a long batch.
"""

from __future__ import annotations

import os
import re
from contextlib import asynccontextmanager
from urllib.parse import urlparse

from toolpanel.config import Settings


def limit_name(settings: Settings) -> str:
    host = urlparse(settings.base_url or "https://api.openai.com/v1").netloc or "local"
    return "toolpanel-llm-" + re.sub(r"[^a-z0-9]+", "-", host.lower()).strip("-")


def server_present() -> bool:
    """Global limits need a real Prefect server (not the throwaway ephemeral one)."""
    return bool(os.environ.get("PREFECT_API_URL"))


def editor_reserve(settings: Settings) -> int:
    return max(0, min(settings.flows.editor_reserve, settings.concurrency - 1))


async def ensure_limit(settings: Settings) -> str:
    """Create the provider's global concurrency limit if missing (limit = the configured concurrency)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    name = limit_name(settings)
    async with get_client() as client:
        try:
            await client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            try:
                await client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=name, limit=settings.concurrency, active=True))
            except ObjectAlreadyExists:  # created concurrently by another process
                pass
    return name


@asynccontextmanager
async def provider_slots(settings: Settings, wanted: int, *, editor: bool):
    """Lease up to `wanted` provider slots for this flow run; yields how many calls may run at once."""
    reserve = editor_reserve(settings)
    share = (reserve or settings.concurrency) if editor else settings.concurrency - reserve
    n = max(1, min(wanted, share, settings.concurrency))
    if not server_present():
        yield n
        return
    from prefect.concurrency.asyncio import concurrency

    name = await ensure_limit(settings)
    async with concurrency(name, occupy=n, strict=True):
        yield n
