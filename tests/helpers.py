"""Small helpers shared by tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "tools"
SEED_A = EXAMPLES / "smolvlm2-turbo.md"
SEED_B = EXAMPLES / "openrouter-model-fusion.md"
PERSONA_IDS = ["builder", "skeptic", "futurist", "founder", "creator"]
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


def seed_project(root: Path, extra_toml: str = "") -> Path:
    """A project dir with the two seed cards as a configured card source; returns the cards dir."""
    cards = root / "cards"
    cards.mkdir(parents=True)
    for src in (SEED_A, SEED_B):
        (cards / src.name).write_text(src.read_text())
    (root / "toolpanel.toml").write_text('[sources.examples]\nkind = "cards"\npath = "cards"\n\n' + extra_toml)
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
