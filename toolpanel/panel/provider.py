"""The provider: open the configured one (or the bundled local model) as an `LLM`, and say which it is.

`endpoint_identity(settings)` is what a run records as its provider endpoint: the bundled (or configured)
local model by its model file — name and content hash — never by the port its server got this time; a
loopback base_url without its port; otherwise the base_url. `normalise_endpoint` / `same_endpoint` read
recorded values (old rows too) the same way, so `toolpanel why` never calls a new port a provider change.
"""

from __future__ import annotations

import ipaddress
import json
import math
import os
import re
import sys
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from toolpanel.config import Settings
from toolpanel.panel.take import COMPACT, DEFAULT

OPENAI_DEFAULT = "https://api.openai.com/v1"  # what the openai client talks to when no base_url is set
LOCAL_API_KEY = "local"  # the key toolpanel gives its own started model server
LOCAL = "local"  # recorded before the model file was: "the local model, file unknown"
_LOCAL_ID = re.compile(r"^local:(?P<name>.+?)(?:@sha256:(?P<hash>[0-9a-f]+))?$")
_LOOPBACK_NAMES = {"localhost", "ip6-localhost", "ip6-loopback"}


@contextmanager
def resolved_settings(settings: Settings):
    """Settings with a reachable base_url: the configured provider (a loopback one fitted to its server, see
    `fit_local_endpoint`), or a started local model server."""
    if not settings.uses_local_model:
        yield fit_local_endpoint(settings) if is_loopback(urlsplit(settings.base_url or "").hostname) else settings
        return
    from toolpanel.panel.local_model import local_server
    from toolpanel.panel.take import COMPACT_MAX_TOKENS

    with local_server(settings) as base_url:
        # One local server handles one request at a time; more concurrency only queues.
        # LOCAL_API_KEY also tells profile_for that this is the local model (compact profile).
        yield settings.model_copy(update={"base_url": base_url, "api_key": LOCAL_API_KEY, "concurrency": 1,
                                          "timeout": max(settings.timeout, 300.0),
                                          "max_tokens": COMPACT_MAX_TOKENS})


# ----------------------------------------------------------------- a loopback server toolpanel did not start

# Below this context the providers' prompt profile does not fit: for the longest example card it sends ~3,700
# tokens and asks for up to 600 more; a longer card needs more. The compact profile sends ~1,000.
SMALL_CONTEXT = 8192
# Prompt tokens a second per CPU core on a loopback server: a 2-core machine processes about 200 a second
# (SmolLM2-135M on llama-cpp-python; docs/providers.md, "Local servers"). A bigger model is slower at both:
# the prompt rate is taken as at most PROMPT_PER_GENERATED x its measured generation rate (about 3 here).
PROMPT_TOKENS_PER_CORE = 100
PROMPT_PER_GENERATED = 3
# Grammar-constrained takes came at 13-21 tokens/s where the free-text probe measured 60-80: a third of it.
GRAMMAR_SLOWDOWN = 3
GENERATED_PER_SECOND = 20.0  # free-text rate assumed when the server's was not measured (135M, 2 cores, loaded)
ASSUMED_CONTEXT = 4096  # the prompt bound when the server does not report its context
PROFILES_FILE = "endpoint-profiles.json"  # TOOLPANEL_HOME/cache: {base_url: the profile its context chose}
CHOOSE = ('set [provider] prompt_profile = "compact" (small model or context under {small:,} tokens) or '
          '"default" in toolpanel.toml, or TOOLPANEL_PROMPT_PROFILE')


def local_timeout(prompt_tokens: int, output_tokens: int, tokens_per_second: float | None = None,
                  cores: int | None = None) -> float:
    """Seconds one request may take on a loopback server: the prompt at PROMPT_TOKENS_PER_CORE per core, plus
    the output at the measured generation rate slowed by the grammar, 1.5 times over (the machine is shared)
    plus 10 s. A local server keeps working on a request its client gave up on, and the retry queues behind
    it: a timeout too short costs more than one too long."""
    generated = tokens_per_second or GENERATED_PER_SECOND
    prompt_rate = PROMPT_TOKENS_PER_CORE * (cores or os.cpu_count() or 2)
    if tokens_per_second:
        prompt_rate = min(prompt_rate, PROMPT_PER_GENERATED * tokens_per_second)
    seconds = prompt_tokens / prompt_rate + output_tokens * GRAMMAR_SLOWDOWN / generated
    return float(math.ceil(1.5 * seconds + 10))


def fit_local_endpoint(settings: Settings) -> Settings:
    """A loopback OpenAI-compatible server: one call at a time, a timeout worked out from the largest prompt its
    context holds, and the compact prompt profile when it reports a small context (remembered per base_url);
    each unless configured. Says what it chose through `local_model.status`; one `note:` line when the
    profile was not chosen by a reported small context."""
    from toolpanel.panel import local_model
    from toolpanel.panel.take import COMPACT, COMPACT_MAX_TOKENS, DEFAULT

    chosen = settings.model_fields_set
    auto = settings.prompt_profile == "auto"
    asks = auto or "timeout" not in chosen  # with both chosen in the configuration, nothing to ask the server
    facts = local_model.probe_endpoint(settings.base_url, settings.api_key, context=auto) if asks else None
    facts = facts or local_model.EndpointFacts()
    profile = settings.prompt_profile
    where = urlsplit(settings.base_url).netloc
    said = f"{facts.server or 'an OpenAI-compatible server'} at {where}"
    if auto:
        small = facts.context is not None and facts.context < SMALL_CONTEXT
        profile = COMPACT if small else DEFAULT
        _remember_profile(settings, profile)
        if not small:
            size = (f"reports a context of {facts.context:,} tokens ({facts.source})" if facts.context
                    else "does not report its context size")
            _say(f"note: {said} {size}: using the providers' prompt profile; "
                 + CHOOSE.format(small=SMALL_CONTEXT))
    update: dict = {"prompt_profile": profile}
    if profile == COMPACT and "max_tokens" not in chosen:
        update["max_tokens"] = COMPACT_MAX_TOKENS  # the compact grammar closes the JSON within it
    max_tokens = update.get("max_tokens", settings.max_tokens)
    if "concurrency" not in chosen:
        update["concurrency"] = 1  # one model on this machine: more calls at once only queue (and time out)
    if "timeout" not in chosen:
        prompt = max(256, (facts.context or ASSUMED_CONTEXT) - max_tokens)
        update["timeout"] = local_timeout(prompt, max_tokens, facts.tokens_per_second)
    live = settings.model_copy(update=update)
    context = f"context {facts.context:,} tokens" if facts.context else "context not reported"
    rate = f"{facts.tokens_per_second:.0f} tokens/s measured" if facts.tokens_per_second else "rate not measured"
    if asks:
            _say(f"{said}: {context}, {rate}; {profile} prompt profile, {live.concurrency} call"
             f"{'s' if live.concurrency != 1 else ''} at a time, timeout {live.timeout:g} s")
    return live


def _say(line: str) -> None:
    from toolpanel.panel import local_model

    if local_model.status:
        local_model.status(line)
    elif line.startswith("note:"):
        print(line, file=sys.stderr)


def _profiles_file(settings: Settings) -> Path:
    return settings.home / "cache" / PROFILES_FILE


_remembered: dict[tuple[str, int], dict] = {}  # (path, mtime_ns) -> the file's content


def remembered_profile(settings: Settings) -> str | None:
    """The profile a loopback base_url's reported context chose in an earlier run (see profile_for)."""
    if not settings.base_url or not is_loopback(urlsplit(settings.base_url).hostname):
        return None
    path = _profiles_file(settings)
    try:
        key = (str(path), path.stat().st_mtime_ns)
        if key not in _remembered:
            _remembered[key] = json.loads(path.read_text("utf-8"))
        found = _remembered[key].get(settings.base_url)
    except (OSError, ValueError, AttributeError):
        return None
    return found if found in ("default", "compact") else None


def _remember_profile(settings: Settings, profile: str) -> None:
    path = _profiles_file(settings)
    try:
        data = json.loads(path.read_text("utf-8")) if path.is_file() else {}
        data = data if isinstance(data, dict) else {}
        if data.get(settings.base_url) == profile:
            return
        data[settings.base_url] = profile
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", "utf-8")
        os.replace(tmp, path)
    except (OSError, ValueError):  # a cache: without it the next command hashes prompts as the default profile
        pass


def profile_for(settings) -> str:
    """`[provider] prompt_profile` when chosen; else `compact` for the local model (before its server starts, or
    the started one) and for a loopback server that reported a small context (remembered_profile keeps
    which, so a command that starts no server hashes prompts the same way); else `default`."""
    chosen = getattr(settings, "prompt_profile", "auto")
    if chosen != "auto":
        return chosen
    if uses_local_server(settings):
        return COMPACT
    return remembered_profile(settings) or DEFAULT


def uses_local_server(settings: Settings) -> bool:
    """The bundled/configured local model: before `resolved_settings` (no provider configured) or after it
    (the key toolpanel gives its own server; see profile_for, which asks the same)."""
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
        from toolpanel.panel.local_model import LocalModelError, model_file, model_hash

        try:
            path = model_file(settings)
        except LocalModelError:  # not installed / path wrong: the run fails on its own; name what was asked
            from toolpanel.panel.local_model import configured_name

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
        from toolpanel.sections import DEMO_MODEL

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
