"""One published truth (issue 22): `compare`, `history` and `why` show what the site shows — published
verdicts — and mark held ones; `--include-held` shows those too, marked. A page's notice comes from the
warehouse's state only: "in progress" only while a run is open and fresh; at most one notice per page.
Real DuckDB warehouses, the real `toolpanel` command, the rendered site parsed."""

from __future__ import annotations

import datetime as dt
import filecmp
import json
import os
import re

import duckdb
import pytest

from tests.helpers import SEED_A, SEED_B, cli, project_toml, write_card
from tests.test_holds import script_split
from tests.test_panel import review
from tests.test_publish import Page, script_seed
from toolpanel.config import load_settings
from toolpanel.publish.site import publish_site

A, B, NEW = "smolvlm2-turbo", "openrouter-model-fusion", "split-tool"
HELD = "held — waits for an editor"
SPLIT_REASON = "split panel (3 ship / 2 skip, scores spread 65 points)"
NOTICES = {"in_progress": "A re-review is in progress; this is the previous complete verdict.",
           "newer": "A newer review waits for an editor; this is the published verdict.",
           "awaiting": "Awaiting editor check: the panel has reviewed this tool, and an editor checks the verdict "
                       "before it is published."}


@pytest.fixture
def env(tp_home, provider_env) -> dict:
    return {k: os.environ[k] for k in ("TOOLPANEL_HOME", "OPENAI_BASE_URL", "OPENAI_API_KEY", "TOOLPANEL_MODEL")}


@pytest.fixture
def seeded(tp_home, provider_env, tmp_path):
    """Both seed tools reviewed and published (SmolVLM2 Turbo 4/0, OpenRouter Model Fusion 3/1); the site
    compares them, and compares a third tool with OpenRouter Model Fusion once it exists."""
    script_seed(provider_env)
    tp_home.mkdir(parents=True, exist_ok=True)
    project_toml(tp_home, f'[publish]\npairs = [["{A}", "{B}"], ["{NEW}", "{B}"]]\n')  # the CLI reads it too
    review([SEED_A, SEED_B])
    return load_settings()


def run(env, tmp_path, *args) -> str:
    r = cli(*args, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    return r.stdout


def flat(text: str) -> str:
    """Terminal output with table borders and wrapping removed: the words a reader sees, in order."""
    return " ".join(re.sub(r"[│┃┏┓┗┛┡┩└┘┌┐├┤┬┴┼━─═╇╈╋╀╁╂┼]", " ", text).split())


def cells(text: str, row: str) -> list[str]:
    """A table row's cells (first physical line) as the terminal shows them."""
    line = next(ln for ln in text.splitlines() if re.match(rf"[│┃]\s*{re.escape(row)}\s*[│┃]", ln))
    return [c.strip() for c in re.split(r"[│┃]", line)[1:-1]]


def held_line(text: str) -> list[str]:
    """The cells of the line under the "Panel verdict" row (where a held verdict is marked)."""
    lines = text.splitlines()
    i = next(i for i, ln in enumerate(lines) if re.match(r"[│┃]\s*Panel verdict\s*[│┃]", ln))
    return [c.strip() for c in re.split(r"[│┃]", lines[i + 1])[1:-1]]


def site_compare(settings, a: str, b: str) -> tuple[list[str], str]:
    """The site's comparison page: the panel verdict row and the answer, as a reader sees them."""
    publish_site(settings)
    t = Page((settings.site_dir / "compare" / f"{a}-vs-{b}.html").read_text()).text
    verdicts = re.search(r"Panel verdict (.+?) Confidence", t).group(1)  # the band's row follows (issue 27)
    # the rule-based answer; each panel's own answer (its summary) follows it
    answer = re.search(r"Which one should you ship with\? (.+?) (What each panel says|Reviewer scorecard)",
                       t[t.index("Community"):]).group(1)
    return verdicts, answer


def tool_page(settings, slug: str) -> Page:
    publish_site(settings)
    return Page((settings.site_dir / "tools" / f"{slug}.html").read_text())


def notices(page: Page) -> list[str]:
    """The status notices a page shows, by their text."""
    return [n for n in NOTICES.values() if n in page.text]


# --------------------------------------------------------------------------- CLI and site agree


def test_a_published_tool_cli_and_site_agree(seeded, env, tmp_path):
    verdicts, answer = site_compare(seeded, A, B)
    assert verdicts == "Ship · 4 ship / 0 skip Ship · 3 ship / 1 skip"
    assert answer == "Ship with SmolVLM2 Turbo . SmolVLM2 Turbo wins on panel ship %: 100% vs 75%."
    out = run(env, tmp_path, "compare", A, B)
    assert cells(out, "Panel verdict") == ["Panel verdict", "Ship · 4 ship / 0 skip", "Ship · 3 ship / 1 skip"]
    assert "Ship with: SmolVLM2 Turbo — SmolVLM2 Turbo wins on panel ship %: 100% vs 75%." in flat(out)
    assert HELD not in out and "--include-held" not in out
    data = json.loads(run(env, tmp_path, "compare", A, B, "--json"))
    assert [data[s]["verdict"]["label"] for s in "ab"] == ["Ship · 4 ship / 0 skip", "Ship · 3 ship / 1 skip"]
    assert [data[s]["decision"] for s in "ab"] == ["auto", "auto"]
    assert [data[s]["held"] for s in "ab"] == [False, False] and data["a"]["waiting"] is None
    assert data["comparison"]["pick"] == "a"
    assert data["comparison"]["reason"] == "SmolVLM2 Turbo wins on panel ship %: 100% vs 75%."
    # nothing held: --include-held changes nothing
    assert json.loads(run(env, tmp_path, "compare", A, B, "--json", "--include-held"))["comparison"] == data["comparison"]
    page = tool_page(seeded, A)
    assert "Panel verdict Ship · 4 ship / 0 skip" in page.text and notices(page) == []


def test_a_held_rereview_of_a_published_tool_cli_and_site_agree(seeded, env, tmp_path, provider_env):
    script_split(provider_env, A)
    review([SEED_A], force=True, reason="editor asked")
    reasons = "; ".join(json.loads(run(env, tmp_path, "queue", "--json"))["held"][0]["reasons"])
    assert reasons.startswith(SPLIT_REASON)

    # the site and the CLI both show the published verdict and the same answer
    verdicts, answer = site_compare(seeded, A, B)
    assert verdicts == "Ship · 4 ship / 0 skip Ship · 3 ship / 1 skip"
    assert answer == "Ship with SmolVLM2 Turbo . SmolVLM2 Turbo wins on panel ship %: 100% vs 75%."
    out = run(env, tmp_path, "compare", A, B)
    assert cells(out, "Panel verdict") == ["Panel verdict", "Ship · 4 ship / 0 skip", "Ship · 3 ship / 1 skip"]
    words = flat(out)
    assert "Ship with: SmolVLM2 Turbo — SmolVLM2 Turbo wins on panel ship %: 100% vs 75%." in words
    assert (f"SmolVLM2 Turbo: a newer verdict, Ship · 3 ship / 2 skip, is {HELD}: {reasons}; "
            "shown: the published verdict.") in words
    assert f"Include the held verdicts: toolpanel compare {A} {B} --include-held" in words
    data = json.loads(run(env, tmp_path, "compare", A, B, "--json"))
    assert data["a"]["verdict"]["label"] == "Ship · 4 ship / 0 skip" and data["a"]["decision"] == "auto"
    assert data["a"]["held"] is False and data["a"]["published"] == "Ship · 4 ship / 0 skip"
    assert data["a"]["waiting"]["label"] == "Ship · 3 ship / 2 skip" and data["a"]["waiting"]["reasons"][0] == SPLIT_REASON
    assert data["comparison"]["pick"] == "a"
    page = tool_page(seeded, A)
    assert "Panel verdict Ship · 4 ship / 0 skip" in page.text and notices(page) == [NOTICES["newer"]]

    # --include-held: the held verdict, marked, and the answer it gives (which the site does not show)
    out = run(env, tmp_path, "compare", A, B, "--include-held")
    assert cells(out, "Panel verdict") == ["Panel verdict", "Ship · 3 ship / 2 skip", "Ship · 3 ship / 1 skip"]
    words = flat(out)
    assert held_line(out) == ["", f"({HELD})", ""]
    assert ("Ship with: OpenRouter Model Fusion — OpenRouter Model Fusion wins on panel ship %: 75% vs 60%."
            in words)
    assert (f"SmolVLM2 Turbo: the verdict shown is {HELD}: {reasons} (published: Ship · 4 ship / 0 skip)."
            in words)
    assert "Held verdicts are not published: this answer may change when an editor decides." in words
    data = json.loads(run(env, tmp_path, "compare", A, B, "--json", "--include-held"))
    assert data["include_held"] is True and data["a"]["verdict"]["label"] == "Ship · 3 ship / 2 skip"
    assert data["a"]["decision"] == "held" and data["a"]["held"] is True and data["a"]["held_reasons"][0] == SPLIT_REASON
    assert data["comparison"]["pick"] == "b"

    # history: every run, each saying what became of its verdict
    out = run(env, tmp_path, "history", A)
    rows = [[c.strip() for c in ln.split("│")[1:-1]] for ln in out.splitlines() if re.match(r"│\s*20\d\d-", ln)]
    assert [r[1:] for r in rows] == [["cli", "", "complete", "Ship · 4 ship / 0 skip", "Unanimous · 4 of 5 voices",
                                      "published", "100%", "79.2", "5", "0"],
                                     ["cli", "editor asked", "complete", "Ship · 3 ship / 2 skip", "Split", "held (1)",
                                      "60%", "58", "5", "0"]]
    assert f"(1) {HELD}: {reasons}" in out
    runs = json.loads(run(env, tmp_path, "history", A, "--json"))["runs"]
    assert [(r["decision"], r["outcome"]) for r in runs] == [("auto", "published"), ("held", f"{HELD}: {reasons}")]
    assert runs[1]["held_reasons"][0] == SPLIT_REASON

    # why: the last two published verdicts (one so far), then the held one with --include-held, marked
    out = run(env, tmp_path, "why", A)
    assert flat(out) == flat(f"{A} has one published verdict so far: nothing to compare yet. A newer verdict waits "
                             f"for an editor (Ship · 3 ship / 2 skip, held: {reasons}): toolpanel why {A} --include-held")
    out = run(env, tmp_path, "why", A, "--include-held")
    lines = out.splitlines()
    to = next(i for i, ln in enumerate(lines) if ln.startswith("to    Ship · 3 ship / 2 skip"))
    assert lines[to - 1].startswith("from  Ship · 4 ship / 0 skip")
    assert flat(lines[to + 1]).startswith(f"{HELD}: {SPLIT_REASON}")
    data = json.loads(run(env, tmp_path, "why", A, "--include-held", "--json"))
    assert (data["from"]["decision"], data["to"]["decision"], data["to"]["held"]) == ("auto", "held", True)
    assert data["to"]["held_reasons"][0] == SPLIT_REASON and data["waiting"] is None

    # the editor approves: now published everywhere, and `why` explains it by default
    run(env, tmp_path, "approve", A, "--editor", "Ada", "--no-publish")
    verdicts, answer = site_compare(seeded, A, B)
    assert verdicts == "Ship · 3 ship / 2 skip Ship · 3 ship / 1 skip"
    assert answer == "Ship with OpenRouter Model Fusion . OpenRouter Model Fusion wins on panel ship %: 75% vs 60%."
    out = run(env, tmp_path, "compare", A, B)
    assert cells(out, "Panel verdict") == ["Panel verdict", "Ship · 3 ship / 2 skip", "Ship · 3 ship / 1 skip"]
    assert HELD not in out
    assert [r["outcome"] for r in json.loads(run(env, tmp_path, "history", A, "--json"))["runs"]] == [
        "published", "published"]
    out = run(env, tmp_path, "why", A)
    assert "to    Ship · 3 ship / 2 skip" in out and HELD not in out


def test_a_held_new_tool_cli_and_site_agree(seeded, env, tmp_path, provider_env):
    card = write_card(tmp_path / "cards", NEW, name="Split Tool")
    script_split(provider_env, NEW)
    review([card])
    reasons = "; ".join(json.loads(run(env, tmp_path, "queue", "--json"))["held"][0]["reasons"])
    assert reasons.startswith(SPLIT_REASON)

    verdicts, answer = site_compare(seeded, NEW, B)
    assert verdicts == "No verdict yet Ship · 3 ship / 1 skip"
    assert answer == "No call yet: Split Tool has no published panel verdict."
    out = run(env, tmp_path, "compare", NEW, B)
    assert cells(out, "Panel verdict") == ["Panel verdict", "No verdict yet", "Ship · 3 ship / 1 skip"]
    words = flat(out)
    assert "No decision: Split Tool has no published panel verdict yet." in words and "Ship with" not in words
    assert (f"Split Tool: awaiting editor check — its verdict, Ship · 3 ship / 2 skip, is {HELD}: {reasons}."
            in words)
    data = json.loads(run(env, tmp_path, "compare", NEW, B, "--json"))
    assert data["a"]["verdict"] is None and data["a"]["decision"] is None and data["a"]["published"] is None
    assert data["a"]["waiting"]["label"] == "Ship · 3 ship / 2 skip" and data["comparison"] is None
    page = tool_page(seeded, NEW)
    assert "Panel verdict Awaiting editor check" in page.text and notices(page) == [NOTICES["awaiting"]]

    out = run(env, tmp_path, "compare", NEW, B, "--include-held")
    words = flat(out)
    assert cells(out, "Panel verdict") == ["Panel verdict", "Ship · 3 ship / 2 skip", "Ship · 3 ship / 1 skip"]
    assert held_line(out) == ["", f"({HELD})", ""]
    assert ("Ship with: OpenRouter Model Fusion — OpenRouter Model Fusion wins on panel ship %: 75% vs 60%."
            in words)
    assert f"Split Tool: the verdict shown is {HELD}: {reasons} (nothing published yet)." in words
    data = json.loads(run(env, tmp_path, "compare", NEW, B, "--json", "--include-held"))
    assert data["a"]["held"] is True and data["comparison"]["pick"] == "b"

    runs = json.loads(run(env, tmp_path, "history", NEW, "--json"))["runs"]
    assert [r["outcome"] for r in runs] == [f"{HELD}: {reasons}"]
    out = run(env, tmp_path, "history", NEW)
    assert re.search(r"│ held \(1\)\s+│", out) and f"(1) {HELD}: {reasons}" in out
    out = run(env, tmp_path, "why", NEW, "--include-held")
    assert flat(out) == flat(f"{NEW} has no published verdict so far: nothing to compare yet. Its first verdict "
                             f"waits for an editor (Ship · 3 ship / 2 skip, held: {reasons}).")

    # rejected: still nothing published, and history says so
    run(env, tmp_path, "reject", NEW, "--editor", "Ada", "--no-publish")
    assert [r["outcome"] for r in json.loads(run(env, tmp_path, "history", NEW, "--json"))["runs"]] == ["rejected"]
    verdicts, answer = site_compare(seeded, NEW, B)
    assert verdicts == "No verdict yet Ship · 3 ship / 1 skip"
    assert cells(run(env, tmp_path, "compare", NEW, B, "--include-held"), "Panel verdict")[1] == "No verdict yet"


# --------------------------------------------------------------------------- notices from the warehouse's state


def open_run(settings, slug: str, minutes_ago: float) -> str:
    """A run of `slug` that started `minutes_ago` and has no result (as a review in flight leaves it)."""
    run_id = f"run_open_{slug}_{int(minutes_ago)}"
    started = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(minutes=minutes_ago)
    con = duckdb.connect(str(settings.warehouse_path))
    try:
        con.execute("INSERT INTO runs SELECT ?, slug, snapshot_hash, 'editor', 'editor asked', NULL, true, prompt_hash, "
                    "persona_versions, models, settings, pid, host, ? FROM runs WHERE slug = ? LIMIT 1",
                    [run_id, started, slug])
    finally:
        con.close()
    return run_id


def test_in_progress_only_while_a_run_is_open_and_fresh(seeded, env, tmp_path, provider_env):
    # a re-review that ended incomplete: nothing is running, so nothing is said
    for p in ("builder", "skeptic", "futurist"):
        provider_env.script("malformed", persona=p, tool=A)
    review([SEED_A], force=True)
    page = tool_page(seeded, A)
    assert "Panel verdict Ship · 4 ship / 0 skip" in page.text and notices(page) == []
    assert json.loads(run(env, tmp_path, "compare", A, B, "--json"))["a"]["review_in_progress"] is False

    # an open run started three hours ago is dead (default [flows] stale_run_minutes = 120)
    open_run(seeded, A, 180)
    assert notices(tool_page(seeded, A)) == []
    assert json.loads(run(env, tmp_path, "compare", A, B, "--json"))["a"]["review_in_progress"] is False

    # an open run started five minutes ago is a re-review in progress
    open_run(seeded, A, 5)
    page = tool_page(seeded, A)
    assert notices(page) == [NOTICES["in_progress"]] and "Panel verdict Ship · 4 ship / 0 skip" in page.text
    assert json.loads(run(env, tmp_path, "compare", A, B, "--json"))["a"]["review_in_progress"] is True
    # ... unless the setting says runs die sooner
    (tmp_path / "toolpanel.toml").write_text("[flows]\nstale_run_minutes = 2\n")
    assert json.loads(run(env, tmp_path, "compare", A, B, "--json"))["a"]["review_in_progress"] is False
    (tmp_path / "toolpanel.toml").write_text("[flows]\nstale_run_minutes = 0\n")
    r = cli("compare", A, B, env=env, cwd=tmp_path)
    assert r.returncode == 2
    assert "toolpanel.toml: [flows] stale_run_minutes: Input should be greater than or equal to 1" in r.stderr


def test_one_notice_per_page_the_most_important(seeded, env, tmp_path, provider_env):
    # a held re-review and a fresh open run: "a newer review waits" wins
    script_split(provider_env, A)
    review([SEED_A], force=True)
    open_run(seeded, A, 5)
    page = tool_page(seeded, A)
    assert notices(page) == [NOTICES["newer"]]
    assert len([a for tag, a in page.tags if tag == "p" and a.get("role") == "status"]) == 1
    # a held new tool with a fresh open run: "awaiting editor check" wins (the run promises nothing shown)
    card = write_card(tmp_path / "cards", NEW, name="Split Tool")
    script_split(provider_env, NEW)
    review([card])
    open_run(seeded, NEW, 5)
    page = tool_page(seeded, NEW)
    assert notices(page) == [NOTICES["awaiting"]]
    assert len([a for tag, a in page.tags if tag == "p" and a.get("role") == "status"]) == 1


def test_a_run_going_stale_republishes_its_page_incrementally(seeded, monkeypatch, tmp_path):
    """The open -> dead change is one of time, not data: the page fingerprint still changes, and the
    incremental republish equals a full rebuild."""
    import toolpanel.queue.views

    open_run(seeded, A, 5)
    assert notices(tool_page(seeded, A)) == [NOTICES["in_progress"]]
    later = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(hours=3)
    monkeypatch.setattr(toolpanel.queue.views, "now", lambda: later)
    report = publish_site(seeded)
    assert 1 <= report["written"] < report["pages"]
    assert notices(Page((seeded.site_dir / "tools" / f"{A}.html").read_text())) == []
    full = tmp_path / "full"
    publish_site(seeded, full=True, out=full)
    cmp = filecmp.dircmp(seeded.site_dir, full)

    def diff(c, at=""):
        return ([at + f for f in c.diff_files + c.left_only + c.right_only]
                + [f for name, sub in c.subdirs.items() for f in diff(sub, f"{at}{name}/")])
    assert diff(cmp) == []
