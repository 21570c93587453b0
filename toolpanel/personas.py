"""Personas live as YAML files in personas/; a persona's version is its file's content hash."""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml
from pydantic import ValidationError

from toolpanel.models import Persona

REQUIRED = ("id", "name", "lens", "questions", "voice", "example", "abstain_when")
ALLOWED = set(REQUIRED) | {"order"}


class PersonaError(Exception):
    """A persona file is unusable; the message names the file, the field and the fix."""


def load_persona(path: Path) -> Persona:
    raw = path.read_bytes()
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise PersonaError(f"{path}: not valid YAML ({exc.__class__.__name__}) — fix the file's syntax") from None
    if not isinstance(data, dict):
        raise PersonaError(f"{path}: expected 'field: value' lines — see personas/builder.yaml for the shape")
    missing = [k for k in REQUIRED if not data.get(k)]
    if missing:
        raise PersonaError(f"{path}: field(s) {', '.join(missing)} missing — add them (see personas/builder.yaml)")
    unknown = sorted(set(data) - ALLOWED)
    if unknown:
        raise PersonaError(f"{path}: unknown field(s) {', '.join(unknown)} — allowed: {', '.join(sorted(ALLOWED))}")
    if data["id"] != path.stem:
        raise PersonaError(f"{path}: field 'id' is '{data['id']}' but the file is '{path.name}' — make them match")
    version = hashlib.sha256(raw).hexdigest()[:12]
    try:
        return Persona(**data, version=version, path=str(path))
    except ValidationError as exc:
        err = exc.errors()[0]
        raise PersonaError(f"{path}: field '{err['loc'][0]}': {err['msg']} — fix the value") from None


def load_personas(directory: Path, only: list[str] | None = None) -> list[Persona]:
    """All personas in display order; `only` selects a subset by id (unknown ids are an error)."""
    if not directory.is_dir():
        raise PersonaError(f"{directory}: personas directory not found — set personas_dir in toolpanel.toml")
    personas = [load_persona(p) for p in sorted(directory.glob("*.yaml"))]
    if not personas:
        raise PersonaError(f"{directory}: no persona files (*.yaml) — add at least three")
    personas.sort(key=lambda p: (p.order, p.id))
    if only:
        known = {p.id: p for p in personas}
        unknown = [i for i in only if i not in known]
        if unknown:
            raise PersonaError(f"unknown persona(s): {', '.join(unknown)} — choose from {', '.join(known)}")
        personas = [p for p in personas if p.id in set(only)]
    return personas
