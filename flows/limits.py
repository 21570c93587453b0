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
from urllib.parse import urlsplit

from toolpanel.config import Settings
from toolpanel.panel.provider import OPENAI_DEFAULT, is_loopback, uses_local_server

# A quantisation suffix of a GGUF file name (".Q4_1", "-q8_0", ".IQ4_XS", ".f16"): the same model's limit.
_QUANT = re.compile(r"[.-](?:i?q\d\w*|f16|f32|bf16)$", re.IGNORECASE)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def limit_name(settings: Settings) -> str:
    """The provider actually configured, named as `endpoint_identity` (toolpanel.panel.provider) sees it: the local
    model by its file ("toolpanel-llm-local-smollm2-135m-instruct"), before or after its server started; a
    base_url by its host, with the port only off loopback (a loopback port is never another provider); the
    OpenAI default only when no base_url is set."""
    if uses_local_server(settings):
        from toolpanel.panel.local_model import configured_name

        stem = configured_name(settings).removesuffix(".gguf")
        return "toolpanel-llm-local-" + (_slug(_QUANT.sub("", stem)) or "model")
    parts = urlsplit(settings.base_url or OPENAI_DEFAULT)
    host = parts.hostname or "unknown"
    try:
        port = parts.port
    except ValueError:
        port = None
    if is_loopback(host) or port == {"http": 80, "https": 443}.get(parts.scheme.lower()):
        port = None
    if is_loopback(host):
        host = "localhost"
    return "toolpanel-llm-" + _slug(host + (f"-{port}" if port else ""))


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
