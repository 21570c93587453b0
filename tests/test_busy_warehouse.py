"""Issue 24: a warehouse another process holds read-write before a command starts ends every command that
opens it with exit 4 and one `error:` line naming the holder and the fix — never a traceback.

DuckDB lets one process hold the file read-write; while it does, no other process can open it, not even
read-only. The holder here is a helper process, as an analyst's notebook on the wrong file would be."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.helpers import SEED_A, seed_project

EXE = Path(sys.executable).parent / "toolpanel"
HOLDER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])  # read-write, like an analyst's notebook on the wrong file
print("held", flush=True)
sys.stdin.read()  # until the test closes stdin
"""
SLUG = "smolvlm2-turbo"

# Every command that opens the warehouse, as a user would run it (the first word is the command's name).
COMMANDS = {
    "review": ["review", str(SEED_A)],
    "review --json": ["review", str(SEED_A), "--json"],
    "review SOURCE": ["review", "examples"],
    "ingest": ["ingest"],
    "ingest --json": ["ingest", "--json"],
    "sources": ["sources"],
    "history": ["history", SLUG],
    "why": ["why", SLUG],
    "compare": ["compare", SLUG, "openrouter-model-fusion"],
    "publish": ["publish"],
    "vote": ["vote", SLUG, "ship"],
    "vote --import": ["vote", "--import", "votes.csv"],
    "newsletter list": ["newsletter", "list"],
    "newsletter subscribe": ["newsletter", "subscribe", "ada@example.com"],
    "queue": ["queue"],
    "approve": ["approve", SLUG, "--editor", "Ed"],
    "reject": ["reject", SLUG, "--editor", "Ed"],
    "eval": ["eval"],
    "eval --list": ["eval", "--list"],
    "eval --compare": ["eval", "--compare", "run-a", "run-b"],
}
# Commands that never open TOOLPANEL_HOME's warehouse (redteam reviews in warehouses of its own).
NO_WAREHOUSE = {"personas", "serve", "redteam"}


@contextmanager
def held(db: Path):
    """The warehouse file held read-write by another process; yields that process."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(db)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


def run(project: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "TOOLPANEL_", "PREFECT_API"))}
    env.update(TOOLPANEL_HOME=str(home), TOOLPANEL_LOCK_WAIT="0.5", COLUMNS="80")
    return subprocess.run([str(EXE), *args], capture_output=True, text=True, env=env, cwd=project, timeout=120)


def make_home(root: Path) -> tuple[Path, Path]:
    """A project with a configured card source and a migrated (empty) warehouse."""
    from warehouse.store import Warehouse

    project, home = root / "project", root / "home"
    seed_project(project)
    (project / "votes.csv").write_text(f"slug,vote\n{SLUG},ship\n")
    with Warehouse(home / "warehouse.duckdb").connect():
        pass
    return project, home


@pytest.fixture(scope="module")
def busy(tmp_path_factory):
    project, home = make_home(tmp_path_factory.mktemp("busy"))
    with held(home / "warehouse.duckdb") as holder:
        yield project, home, holder


def assert_busy(r: subprocess.CompletedProcess, home: Path, pid: int) -> str:
    assert r.returncode == 4, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr + r.stdout
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and r.stderr.strip().splitlines()[-1] == errors[0], r.stderr
    line = errors[0]
    assert line.startswith(f"error: the warehouse {home / 'warehouse.duckdb'} is held by another process "
                           f"(PID {pid}): still held after the 0.5 s lock wait — let that process finish, or "
                           "close the warehouse there, then run again"), line
    assert f"analysts read {home / 'analyst.duckdb'}, never the warehouse" in line
    return line


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_held_warehouse_is_exit_4_with_one_error_line(busy, name):
    project, home, holder = busy
    r = run(project, home, *COMMANDS[name])
    assert_busy(r, home, holder.pid)
    if name == "review --json":
        assert r.stdout == ""  # nothing half-written on stdout


def test_every_command_is_listed(busy):
    """A new command that opens the warehouse gets a line in COMMANDS (or in NO_WAREHOUSE, with a reason)."""
    project, home, _ = busy
    r = run(project, home, "--help")
    assert r.returncode == 0, r.stderr
    listed = set(re.findall(r"^  ([a-z]+)  ", r.stdout.split("Commands:", 1)[1], re.M))
    assert listed == {c[0] for c in COMMANDS.values()} | NO_WAREHOUSE


def test_commands_that_never_open_the_warehouse_still_work(busy):
    project, home, _ = busy
    r = run(project, home, "personas")
    assert r.returncode == 0, r.stderr
    assert "builder" in r.stdout


def test_paid_takes_already_journaled_stay_journaled(tmp_path):
    """A journal left by an earlier held run is neither lost nor replayed while the warehouse is held; the
    error line says where it waits."""
    project, home = make_home(tmp_path)
    journal = home / "journal" / "build-1-4242.jsonl"
    journal.parent.mkdir()
    journal.write_text('{"op": "takes", "items": []}\n')
    with held(home / "warehouse.duckdb") as holder:
        r = run(project, home, "review", str(SEED_A))
    line = assert_busy(r, home, holder.pid)
    assert line.endswith(f"; paid takes saved earlier stay in {home / 'journal'} until then"), line
    assert journal.read_text() == '{"op": "takes", "items": []}\n'
