"""Prompts are Jinja2 files in prompts/, rendered with StrictUndefined."""

from __future__ import annotations

import hashlib
import json
import secrets
from functools import lru_cache
from pathlib import Path

import jinja2

from toolpanel.models import Persona, Tool
from toolpanel.takeout import GRAMMAR_JSON_SCHEMA, TAKE_JSON_SCHEMA, prompt_contract

TEMPLATES = ("system.j2", "tool.j2", "persona.j2", "repair.j2")


@lru_cache(maxsize=8)
def _env(directory: str) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # prompts are plain text, not HTML
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def prompt_hash(directory: Path) -> str:
    """Hash of the template sources and the take contract (schemas, and the prompt text rendered from
    them): a take's prompt version."""
    h = hashlib.sha256()
    for name in TEMPLATES:
        h.update(name.encode())
        h.update((directory / name).read_bytes())
    h.update(json.dumps([TAKE_JSON_SCHEMA, GRAMMAR_JSON_SCHEMA, prompt_contract()], sort_keys=True).encode())
    return h.hexdigest()[:12]


SCHEMA_NAME = "output-schema.json"  # the take schema is part of the prompt hash; recorded like a template


def template_sources(directory: Path) -> dict[str, str]:
    """Each part of the prompt hash by name (the templates and the output schema), as text."""
    parts = {name: (directory / name).read_text("utf-8") for name in TEMPLATES}
    parts[SCHEMA_NAME] = json.dumps([TAKE_JSON_SCHEMA, GRAMMAR_JSON_SCHEMA], sort_keys=True, indent=1)
    return parts


def new_marker() -> str:
    """A random delimiter for one tool review; vendor text cannot guess or close it."""
    return f"TOOL-DATA-{secrets.token_hex(8)}"


def shared_messages(directory: Path, tool: Tool, marker: str, panel: list[Persona]) -> list[dict]:
    """Rules, the whole panel's lenses, then the tool: identical for all five persona calls of a review,
    so a provider's prefix cache serves four of them (only voice and example differ per persona)."""
    env = _env(str(directory))
    tool_fields = tool.reviewed_content()
    # The marker must not occur in vendor text; strip any attempt to forge it.
    safe = {k: (v.replace(marker, "") if isinstance(v, str) else v) for k, v in tool_fields.items()}
    return [
        {"role": "system", "content": env.get_template("system.j2").render(
            marker=marker, panel=panel, take=prompt_contract())},
        {"role": "user", "content": env.get_template("tool.j2").render(marker=marker, tool=safe, slug=tool.slug)},
    ]


def persona_message(directory: Path, persona: Persona) -> dict:
    return {"role": "user", "content": _env(str(directory)).get_template("persona.j2").render(persona=persona)}


def repair_message(directory: Path, error: str) -> dict:
    return {"role": "user", "content": _env(str(directory)).get_template("repair.j2").render(error=error)}
