"""Issue 24: the CLI at 80 columns keeps every value whole (wrapped, or one block per row, never cut with
"…"), and every command's --help reads as prose (no `<bool>` / `<str>` type labels)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.fake_openai import FakeOpenAI
from tests.helpers import SEED_A, SEED_B, seed_project

EXE = Path(sys.executable).parent / "toolpanel"
REASON = "editor asked for a second look at the pricing change"


def narrow(*args: str, cwd: Path | None = None, columns: int = 80, env: dict | None = None
           ) -> subprocess.CompletedProcess:
    """The real command at `columns` columns (tests.helpers.cli always uses 200)."""
    full = dict(os.environ, **(env or {}), COLUMNS=str(columns))
    return subprocess.run([str(EXE), *args], capture_output=True, text=True, env=full, cwd=cwd, timeout=120)


def lines_fit(text: str, columns: int = 80) -> bool:
    return all(len(line.rstrip()) <= columns for line in text.splitlines())


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory):
    """A project reviewed twice (the second time forced, with a reason), and the env to run commands in it."""
    root = tmp_path_factory.mktemp("width")
    fake = FakeOpenAI().start()
    try:
        env = {"TOOLPANEL_HOME": str(root / "home"), "OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": "test-key",
               "TOOLPANEL_MODEL": fake.model_id}
        fake.script("valid", score=80, verdict="ship")
        fake.script("valid", persona="skeptic", tool="openrouter-model-fusion", score=45, verdict="skip")
        seed_project(root)
        for args in ((str(SEED_A), str(SEED_B)), (str(SEED_A), "--force", "--reason", REASON), ("examples",)):
            r = narrow("review", *args, cwd=root, columns=200, env=env)
            assert r.returncode == 0, r.stderr
        yield root, env
    finally:
        fake.stop()


def test_history_at_80_columns_keeps_every_value_whole(reviewed):
    root, env = reviewed
    r = narrow("history", "smolvlm2-turbo", cwd=root, env=env)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "…" not in out and lines_fit(out)
    assert out.count("complete") == 2 and out.count("published") == 2
    assert REASON in out  # one line: the reason is not wrapped into pieces either
    assert re.search(r"^started +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", out, re.M)
    assert out.count("Ship · 5 ship / 0 skip") == 2
    wide = narrow("history", "smolvlm2-turbo", cwd=root, columns=200, env=env).stdout
    assert "┃ started" in wide and "…" not in wide  # a wide terminal keeps the table


@pytest.mark.parametrize("args", [
    ("compare", "smolvlm2-turbo", "openrouter-model-fusion"),
    ("personas",),
    ("sources",),
    ("queue",),
    ("why", "smolvlm2-turbo"),
    ("eval", "--list"),
])
def test_other_commands_at_80_columns_cut_nothing(reviewed, args):
    root, env = reviewed
    r = narrow(*args, cwd=root, env=env)
    assert r.returncode == 0, r.stderr
    assert "…" not in r.stdout, r.stdout
    if args[0] in ("compare", "personas"):
        assert lines_fit(r.stdout), r.stdout
    if args[0] == "personas":  # the whole lens, and the whole model name
        text = " ".join(re.sub(r"[│┃]", " ", r.stdout).split())
        assert "whether the tool ends up in a real codebase." in text and env["TOOLPANEL_MODEL"] in text


def _commands() -> list[str]:
    r = narrow("--help")
    assert r.returncode == 0, r.stderr
    return re.findall(r"^  ([a-z]+)  ", r.stdout.split("Commands:", 1)[1], re.M)


def test_help_reads_as_prose_at_80_columns():
    names = _commands()
    assert {"review", "history", "vote", "eval", "approve"} <= set(names)
    with ThreadPoolExecutor(2) as pool:
        helps = dict(zip(["(app)", *names], pool.map(lambda a: narrow(*a, "--help"), [(), *[(n,) for n in names]])))
    for name, r in helps.items():
        assert r.returncode == 0, (name, r.stderr)
        text = r.stdout
        assert not re.search(r"<[a-z][\w\[\], |]*>", text), (name, text)  # <bool>, <str>, <list[str]>, <path>
        assert "…" not in text and lines_fit(text), (name, text)
        assert "{" not in text.splitlines()[0], (name, text)  # usage: SLUG, not {slug}
    review = helps["review"].stdout
    assert "Usage: toolpanel review [OPTIONS] PATHS..." in review
    assert re.search(r"^  --force +Re-review even", review, re.M)  # a flag: no type after it
    assert re.search(r"^  --model NAME +Model for every persona", review, re.M)
    assert "Ignore [budget] per_day caps" in " ".join(review.split())  # help text is not read as markup
    assert re.search(r"^  --editor NAME ", helps["approve"].stdout, re.M)
    assert "Usage: toolpanel history [OPTIONS] SLUG" in helps["history"].stdout
    app = " ".join(helps["(app)"].stdout.split())
    assert "what became of it (published, held for an editor and why, rejected, superseded)." in app
