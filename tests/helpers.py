"""Small helpers shared by tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "tools"
SEED_A = EXAMPLES / "smolvlm2-turbo.md"
SEED_B = EXAMPLES / "openrouter-model-fusion.md"
PERSONAS = ROOT / "personas"  # the real panel: tests about it read its ids (real_persona_ids), never list them
# The fixture panel: frozen copies of the five personas the tests' expected texts were written for ("3 ship /
# 2 skip", five takes, scripts keyed by these ids). Every test reviews with it unless it asks for `real_personas`
# (conftest.py): in-process through the default personas_dir, in a subprocess through toolpanel.toml's personas_dir,
# which project_toml and seed_project write. A persona added to personas/ therefore changes no test's panel.
FIXTURE_PERSONAS = ROOT / "tests" / "fixtures" / "personas"
PERSONA_IDS = ["builder", "skeptic", "futurist", "founder", "creator"]  # the fixture panel, in display order
PANEL_TOML = f"personas_dir = {json.dumps(FIXTURE_PERSONAS.as_posix())}\n"  # top-level: before any [table]
# The fake provider listens on loopback, where toolpanel treats an endpoint as a local server (concurrency 1, a
# context probe, a timeout from the prompt's size): tests of a remote provider's behaviour configure it as one.
REMOTE_LIKE = '[provider]\nconcurrency = 8\ntimeout = 60\nprompt_profile = "default"\n'


def write_card(directory: Path, slug: str, description: str = "A tool that does a useful thing for developers, "
               "with a clear first task and an obvious competitor.", **fields) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    fields.setdefault("name", slug.replace("-", " ").title())
    fields.setdefault("slug", slug)
    fields.setdefault("category", "Developer Tools")
    head = "\n".join(f"{k}: {v}" for k, v in fields.items())
    path = directory / f"{slug}.md"
    path.write_text(f"---\n{head}\n---\n{description}\n", encoding="utf-8")
    return path


def real_persona_ids() -> list[str]:
    """The ids in personas/, in display order: for tests about the real panel (it may have any number)."""
    from toolpanel.panel.personas import load_personas

    return [p.id for p in load_personas(PERSONAS)]


def project_toml(directory: Path, text: str = "") -> Path:
    """Write directory/toolpanel.toml: the fixture panel's personas_dir, then `text` (tables and keys)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "toolpanel.toml"
    path.write_text(PANEL_TOML + text, encoding="utf-8")
    return path


def seed_project(root: Path, extra_toml: str = "") -> Path:
    """A project dir with the two seed cards as a configured card source and the fixture panel; returns the
    cards dir."""
    cards = root / "cards"
    cards.mkdir(parents=True)
    for src in (SEED_A, SEED_B):
        (cards / src.name).write_text(src.read_text())
    project_toml(root, '[sources.examples]\nkind = "cards"\npath = "cards"\n\n' + extra_toml)
    return cards


def rows(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def cli(*args: str, env: dict | None = None, timeout: float = 120, cwd: Path | None = None
        ) -> subprocess.CompletedProcess:
    """Run the real `toolpanel` console command."""
    exe = Path(sys.executable).parent / "toolpanel"
    full_env = dict(os.environ, **(env or {}), COLUMNS="200")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=full_env, timeout=timeout, cwd=cwd)
