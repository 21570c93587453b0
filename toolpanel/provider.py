"""The provider: open the configured one (or the bundled local model) as an `LLM`, and say which it is.

`endpoint_identity(settings)` is what a run records as its provider endpoint: the bundled (or configured)
local model by its model file — name and content hash — never by the port its server got this time; a
loopback base_url without its port; otherwise the base_url. `normalise_endpoint` / `same_endpoint` read
recorded values (old rows too) the same way, so `toolpanel why` never calls a new port a provider change.
"""

from __future__ import annotations

import ipaddress
import re
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

from toolpanel.config import Settings

OPENAI_DEFAULT = "https://api.openai.com/v1"  # what the openai client talks to when no base_url is set
LOCAL = "local"  # recorded before the model file was: "the local model, file unknown"
_LOCAL_ID = re.compile(r"^local:(?P<name>.+?)(?:@sha256:(?P<hash>[0-9a-f]+))?$")
_LOOPBACK_NAMES = {"localhost", "ip6-localhost", "ip6-loopback"}


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


def uses_local_server(settings: Settings) -> bool:
    """The bundled/configured local model: before `resolved_settings` (no provider configured) or after it
    (the key toolpanel gives its own server; see prompts.profile_for, which asks the same)."""
    from toolpanel.prompts import LOCAL_API_KEY

    return settings.uses_local_model or settings.api_key == LOCAL_API_KEY


def is_loopback(host: str | None) -> bool:
    host = (host or "").strip("[]").lower()
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback or host == "0.0.0.0"
    except ValueError:
        return False


def endpoint_identity(settings: Settings) -> str:
    """What a run records as its provider endpoint (see the module docstring).

    "local:SmolLM2-135M-Instruct.Q4_1.gguf@sha256:<16 hex>" for the local model (the hash is cached by
    path, size and mtime: one stat per call after the first); "http://localhost/v1" for any loopback
    base_url whatever its port; otherwise the base_url (the OpenAI default when none is set)."""
    if uses_local_server(settings):
        from toolpanel.local_model import LocalModelError, model_file, model_hash

        try:
            path = model_file(settings)
        except LocalModelError:  # not installed / path wrong: the run fails on its own; name what was asked
            from toolpanel.local_model import configured_name

            return f"{LOCAL}:{configured_name(settings)}"
        return f"{LOCAL}:{path.name}@sha256:{model_hash(path, settings.home / 'cache')[:16]}"
    return normalise_endpoint(settings.base_url or OPENAI_DEFAULT)


def normalise_endpoint(value: str | None, models: dict[str, str] | None = None) -> str:
    """A recorded endpoint in the form `endpoint_identity` gives today. Old rows: None was the OpenAI
    default; "local" the local model with its file unknown; a loopback URL carried the port of that
    run's server — dropped, and when every persona used the bundled model's alias (`models`) and the
    path is the llama.cpp server's /v1, it was the local model ("local", file unknown)."""
    if value is None:
        return OPENAI_DEFAULT
    value = str(value).strip()
    if value == LOCAL or value.startswith(LOCAL + ":"):
        return value
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        return value
    if not parts.scheme or not host:
        return value
    path = parts.path.rstrip("/")
    if is_loopback(host):
        from toolpanel.config import DEMO_MODEL

        if models and path == "/v1" and set(models.values()) == {DEMO_MODEL}:
            return LOCAL
        return urlunsplit((parts.scheme.lower(), "localhost", path, parts.query, ""))
    netloc = host.lower() if ":" not in host else f"[{host.lower()}]"
    if parts.port is not None and parts.port != {"http": 80, "https": 443}.get(parts.scheme.lower()):
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme.lower(), netloc, path, parts.query, ""))


def same_endpoint(a: str, b: str) -> bool:
    """Two normalised endpoints name the same provider. "local" (file not recorded) matches any local model
    file: an unknown file is not claimed as a change."""
    if a == b:
        return True
    return {a, b} & {LOCAL} != set() and all(x == LOCAL or x.startswith(LOCAL + ":") for x in (a, b))


def local_model_parts(identity: str) -> tuple[str, str | None] | None:
    """(file name, hash or None) of a local-model identity; None for any other endpoint."""
    m = _LOCAL_ID.match(identity)
    return (m["name"], m["hash"]) if m else None


def describe_endpoint(identity: str) -> str:
    """An endpoint identity in words (for `toolpanel why`)."""
    if identity == LOCAL:
        return "the local model (file not recorded)"
    parts = local_model_parts(identity)
    if parts:
        name, digest = parts
        return f"the local model {name}" + (f" (sha256 {digest[:8]})" if digest else "")
    return f"'{identity}'"


def endpoint_change_phrase(before: str | None, after: str | None) -> str:
    """The cause `toolpanel why` names when the endpoint differs; a model file by its name."""
    a, b = local_model_parts(before or ""), local_model_parts(after or "")
    if a and b and a[0] == b[0]:
        return f"the local model file {a[0]} changed (sha256 {(a[1] or '?')[:8]} → {(b[1] or '?')[:8]})"
    if a and b:
        return f"the local model file changed ({a[0]} → {b[0]})"
    return (f"the provider endpoint changed ({describe_endpoint(before or OPENAI_DEFAULT)} → "
            f"{describe_endpoint(after or OPENAI_DEFAULT)})")
