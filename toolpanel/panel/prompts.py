"""Prompts are Jinja2 files in prompts/, rendered with StrictUndefined."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from functools import lru_cache
from pathlib import Path

import jinja2

from toolpanel.models import Persona, Tool
from toolpanel.panel.take import COMPACT, DEFAULT, TAKE_JSON_SCHEMA, grammar_schema, prompt_contract

# A prompt profile is its templates (system, tool, persona, repair) and its take contract. `default` keeps
# the whole panel in a shared prefix, for providers' prefix caches; `compact` (the bundled/local model,
# which has no such cache and reads every token on 2 CPU cores) sends only the persona's own lens.
PROFILES = {
    DEFAULT: ("system.j2", "tool.j2", "persona.j2", "repair.j2"),
    COMPACT: ("compact_system.j2", "tool.j2", "compact_persona.j2", "repair.j2"),
}
TEMPLATES = PROFILES[DEFAULT]


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


def prompt_hash(directory: Path, profile: str = DEFAULT) -> str:
    """Hash of the profile's template sources and take contract (schemas, and the prompt text rendered
    from them): a take's prompt version. The default profile's hash does not depend on the others."""
    h = hashlib.sha256()
    if profile != DEFAULT:
        h.update(profile.encode())
    for name in PROFILES[profile]:
        h.update(name.encode())
        h.update((directory / name).read_bytes())
    h.update(json.dumps([TAKE_JSON_SCHEMA, grammar_schema(profile), prompt_contract(profile)],
                        sort_keys=True).encode())
    return h.hexdigest()[:12]


SCHEMA_NAME = "output-schema.json"  # the take schema is part of the prompt hash; recorded like a template


def template_sources(directory: Path, profile: str = DEFAULT) -> dict[str, str]:
    """Each part of the prompt hash by name (the profile's templates and output schema), as text."""
    parts = {name: (directory / name).read_text("utf-8") for name in PROFILES[profile]}
    parts[SCHEMA_NAME] = json.dumps([TAKE_JSON_SCHEMA, grammar_schema(profile)], sort_keys=True, indent=1)
    return parts


def new_marker(kind: str = "TOOL") -> str:
    """A random delimiter for one tool review (or, kind PANEL, one round-two prompt's takes); the text it
    delimits cannot guess or close it."""
    return f"{kind}-DATA-{secrets.token_hex(8)}"


# Spotlighting by datamarking (Hines et al. 2024): in the providers' profile every run of spaces in vendor text
# becomes this mark, and the rules say marked text is the vendor's data, never addressed to the reviewer.
DATAMARK = "ˆ"  # U+02C6, stripped from vendor text first so it cannot be forged
MARKED = ("name", "tagline", "category", "pricing", "entry", "description")


def datamark(text: str) -> str:
    return re.sub(r"[ \t]+", DATAMARK, text.replace(DATAMARK, ""))


def unmark(text: str) -> str:
    """A quote copied from marked text, as the card says it."""
    return " ".join(text.replace(DATAMARK, " ").split())


def shared_messages(directory: Path, tool: Tool, marker: str, panel: list[Persona],
                    profile: str = DEFAULT) -> list[dict]:
    """Rules, the whole panel's lenses (default profile only), then the tool: identical for all five persona
    calls of a review, so a provider's prefix cache serves four of them (only voice and example differ)."""
    env = _env(str(directory))
    tool_fields = tool.reviewed_content()
    # The marker must not occur in vendor text; strip any attempt to forge it.
    safe = {k: (v.replace(marker, "") if isinstance(v, str) else v) for k, v in tool_fields.items()}
    if profile == DEFAULT:  # the bundled small model's compact profile reads plain text
        safe.update({k: datamark(safe[k]) for k in MARKED if isinstance(safe.get(k), str)})
    return [
        {"role": "system", "content": env.get_template(PROFILES[profile][0]).render(
            marker=marker, panel=panel, take=prompt_contract(profile), datamark=DATAMARK)},
        {"role": "user", "content": env.get_template(PROFILES[profile][1]).render(
            marker=marker, tool=safe, slug=tool.slug)},
    ]


def persona_message(directory: Path, persona: Persona, profile: str = DEFAULT) -> dict:
    return {"role": "user",
            "content": _env(str(directory)).get_template(PROFILES[profile][2]).render(persona=persona)}


def repair_message(directory: Path, error: str, profile: str = DEFAULT) -> dict:
    return {"role": "user", "content": _env(str(directory)).get_template(PROFILES[profile][3]).render(error=error)}


SCREEN_TEMPLATE = "model_screen.j2"  # the model screen's call (toolpanel.screening.model); not part of the take hash


def screen_messages(directory: Path, tool: Tool, marker: str) -> list[dict]:
    """The model screen's two messages: its instructions, then the card between the per-request marker."""
    module = _env(str(directory)).get_template(SCREEN_TEMPLATE).module
    safe = {k: (v.replace(marker, "") if isinstance(v, str) else v) for k, v in tool.reviewed_content().items()}
    return [{"role": "system", "content": str(module.system(marker))},
            {"role": "user", "content": str(module.card(marker, safe, tool.slug))}]


# Round two (`[panel] rounds = 2`, toolpanel.panel.rounds): its message and the partial it imports. Not part of the
# panel's prompt hash (round-one takes stay cached whatever rounds says); round-two takes carry round_two_hash.
ROUND_TWO = ("round_two.j2", "take_lines.j2")


def round_two_hash(directory: Path, profile: str = DEFAULT) -> str:
    """A round-two take's prompt version: the profile's prompt hash and the round-two templates."""
    h = hashlib.sha256(f"round-two:{prompt_hash(directory, profile)}".encode())
    for name in ROUND_TWO:
        h.update(name.encode())
        h.update((directory / name).read_bytes())
    return h.hexdigest()[:12]


def round_two_sources(directory: Path) -> dict[str, str]:
    """The round-two templates by name, as text (recorded per run like the other parts of the prompt)."""
    return {name: (directory / name).read_text("utf-8") for name in ROUND_TWO}


def round_two_message(directory: Path, own: dict, others: list[dict], profile: str = DEFAULT) -> dict:
    """The round-two user message: the persona's own round-one take, then the others' (`{letter, status, verdict,
    score, paragraph}` each, already anonymised) between a fresh marker; their text datamarked like vendor text
    in the providers' profile (the compact profile reads plain text)."""
    marker = new_marker("PANEL")

    def clean(take: dict) -> dict:
        text = " ".join((take.get("paragraph") or "").replace(marker, "").split())
        return {**take, "paragraph": datamark(text) if profile == DEFAULT else text}

    return {"role": "user", "content": _env(str(directory)).get_template(ROUND_TWO[0]).render(
        marker=marker, own={**own, "paragraph": " ".join((own.get("paragraph") or "").split())},
        others=[clean(t) for t in others], datamark=DATAMARK if profile == DEFAULT else None)}


CHAIR_TEMPLATE = "chair.j2"  # the panel summary's call (toolpanel.panel.chair); not part of the take hash
PAIR_TEMPLATE = "chair_pair.j2"  # a comparison's answer (toolpanel.panel.pairs); nor is this


def chair_messages(directory: Path, tools: list[Tool], reviewers: list[dict],
                   template: str = CHAIR_TEMPLATE, **extra) -> list[dict]:
    """The chair's messages: its rules, each card as the panel read it (one for a verdict's summary, two for a
    comparison's answer), then the takes (`{letter, status, verdict, score, paragraph, evidence}` each, already
    anonymised and shuffled) between a fresh marker. Cards and takes are datamarked, whatever the profile: both
    are data to the chair. `extra` goes to the template's takes macro (a comparison's pick)."""
    marker, panel_marker = new_marker(), new_marker("PANEL")
    env = _env(str(directory))
    module = env.get_template(template).module

    def clean(text: str | None) -> str:
        return datamark(" ".join((text or "").replace(marker, "").replace(panel_marker, "").split()))

    def card(tool: Tool) -> dict:
        safe = {k: (v.replace(marker, "").replace(panel_marker, "") if isinstance(v, str) else v)
                for k, v in tool.reviewed_content().items()}
        safe.update({k: datamark(safe[k]) for k in MARKED if isinstance(safe.get(k), str)})
        return {"role": "user", "content": env.get_template(PROFILES[DEFAULT][1]).render(marker=marker, tool=safe,
                                                                                          slug=tool.slug)}

    shown = [{**r, "paragraph": clean(r.get("paragraph")), "evidence": [clean(q) for q in r.get("evidence") or []]}
             for r in reviewers]
    return [{"role": "system", "content": str(module.system(marker, panel_marker, DATAMARK))},
            *(card(t) for t in tools),
            {"role": "user", "content": str(module.takes(panel_marker, shown, **extra))}]
