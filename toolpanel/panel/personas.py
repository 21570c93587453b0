"""Personas live as YAML files in personas/; a persona's version is its file's content hash."""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import ValidationError

from toolpanel.ingest.cardyaml import load_yaml
from toolpanel.errors import ExitCode, ToolpanelError
from toolpanel.models import Persona

REQUIRED = ("id", "name", "lens", "questions", "voice", "example", "abstain_when")
ALLOWED = set(REQUIRED) | {"order"}


class PersonaError(ToolpanelError):
    """A persona file is unusable (file, field, problem, fix): nothing can be reviewed until it is fixed."""

    code = ExitCode.CONFIG


SHAPE = "see personas/builder.yaml"


def load_persona(path: Path) -> Persona:
    f = str(path)
    raw = path.read_bytes()
    try:
        data = load_yaml(raw.decode("utf-8"), f)  # the card rules: no aliases or tags, no duplicate keys
    except UnicodeDecodeError:
        raise PersonaError("not valid YAML (UnicodeDecodeError)", "fix the file's syntax", file=f) from None
    except ToolpanelError as exc:
        raise PersonaError(exc.problem, "fix the file's syntax", file=f, field=exc.field) from None
    if not isinstance(data, dict):
        raise PersonaError("expected 'field: value' lines", f"{SHAPE} for the shape", file=f)
    missing = [k for k in REQUIRED if not data.get(k)]
    if missing:
        raise PersonaError(f"field(s) {', '.join(missing)} missing", f"add them ({SHAPE})", file=f)
    unknown = sorted(str(k) for k in data if k not in ALLOWED)
    if unknown:
        raise PersonaError(f"unknown field(s) {', '.join(unknown)}", f"allowed: {', '.join(sorted(ALLOWED))}", file=f)
    if data["id"] != path.stem:
        raise PersonaError(f"is '{data['id']}' but the file is '{path.name}'", "make them match", file=f, field="id")
    version = hashlib.sha256(raw).hexdigest()[:12]
    try:
        return Persona(**data, version=version, path=f)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise PersonaError(err["msg"], "fix the value", file=f, field=str(err["loc"][0])) from None


def load_personas(directory: Path, only: list[str] | None = None) -> list[Persona]:
    """All personas in display order; `only` selects a subset by id (unknown ids are an error)."""
    if not directory.is_dir():
        raise PersonaError("personas directory not found", "set personas_dir in toolpanel.toml", file=str(directory))
    personas = [load_persona(p) for p in sorted(directory.glob("*.yaml"))]
    if not personas:
        raise PersonaError("no persona files (*.yaml)", "add at least three", file=str(directory))
    personas.sort(key=lambda p: (p.order, p.id))
    if only:
        known = {p.id: p for p in personas}
        unknown = [i for i in only if i not in known]
        if unknown:
            raise PersonaError(f"unknown persona(s): {', '.join(unknown)}", f"choose from {', '.join(known)}")
        personas = [p for p in personas if p.id in set(only)]
    return personas
