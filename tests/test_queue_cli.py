"""Editors clear the queue from the terminal: `toolpanel review` says what it held, `queue` shows why,
`approve` / `reject` record the decision and republish (real subprocesses, real DuckDB, pages parsed)."""

from __future__ import annotations

import json
import os

import pytest

from tests.helpers import SEED_A, cli, project_toml, rows, write_card
from tests.test_holds import script_split
from tests.test_publish import Page

REASON = "split panel (3 ship / 2 skip, scores spread 65 points)"


@pytest.fixture
def env(tp_home, provider_env, tmp_path) -> dict:
    project_toml(tmp_path)  # the fixture panel, for the `toolpanel` subprocesses (cwd tmp_path)
    return {k: os.environ[k] for k in ("TOOLPANEL_HOME", "OPENAI_BASE_URL", "OPENAI_API_KEY", "TOOLPANEL_MODEL")}


@pytest.fixture
def held(env, provider_env, tmp_path, tp_home):
    card = write_card(tmp_path / "cards", "split-tool", name="Split Tool")
    script_split(provider_env, "split-tool")
    r = cli("review", str(card), str(SEED_A), env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr  # a held verdict is done work: exit 0
    return r


def test_review_names_each_held_tool_and_how_to_approve_it(held):
    assert "1 held for an editor" in held.stdout
    assert (f"held split-tool: {REASON} — approve with: toolpanel approve split-tool --editor NAME"
            in held.stdout)
    assert "held smolvlm2-turbo" not in held.stdout


def test_queue_shows_what_is_held_and_why(held, env, tmp_path):
    r = cli("queue", env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "1 tool wait for an editor" in r.stdout
    assert "new verdict: Ship · 3 ship / 2 skip (Split), panel ship 60%" in r.stdout  # with its confidence band
    assert "published:   nothing yet (new tool)" in r.stdout
    assert f"held: {REASON}" in r.stdout
    assert "Skeptic: 20/100 · skip — The skeptic take on split-tool" in r.stdout
    data = json.loads(cli("queue", "--json", env=env, cwd=tmp_path).stdout)
    [item] = data["held"]
    assert item["slug"] == "split-tool" and item["reasons"] == [REASON] and item["old"] is None
    assert (item["new"], item["band"], item["old_band"]) == ("Ship · 3 ship / 2 skip (Split), panel ship 60%", "Split",
                                                             None)


def test_queue_shows_each_verdicts_band_fewer_voices_when_a_persona_failed(held, env, provider_env, tmp_path):
    """The held re-review and the published verdict each with their confidence band (scoring/band.py); the
    founder's take failed, so the held one stands on 4 of 5 voices."""
    provider_env.script("valid", tool="smolvlm2-turbo", score=80, verdict="ship")
    provider_env.script("contradiction", persona="founder", tool="smolvlm2-turbo")  # still contradictory: failed
    cli("review", str(SEED_A), "--force", env=env, cwd=tmp_path)
    r = cli("queue", env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "2 tools wait for an editor" in r.stdout
    smol = r.stdout.split("(smolvlm2-turbo)", 1)[1].split("approve with:", 1)[0]
    assert "new verdict: Ship · 4 ship / 0 skip (Unanimous · 4 of 5 voices), panel ship 100%" in smol
    assert "published:   Ship · 4 ship / 1 skip (Clear), panel ship 80%" in smol
    assert "held: 1 failed take: founder (invalid_output)" in smol
    items = {i["slug"]: i for i in json.loads(cli("queue", "--json", env=env, cwd=tmp_path).stdout)["held"]}
    assert (items["smolvlm2-turbo"]["band"], items["smolvlm2-turbo"]["old_band"]) == ("Unanimous · 4 of 5 voices",
                                                                                     "Clear")
    assert items["smolvlm2-turbo"]["old"] == "Ship · 4 ship / 1 skip (Clear), panel ship 80%"
    assert (items["split-tool"]["band"], items["split-tool"]["old_band"]) == ("Split", None)


def test_approve_records_the_editor_and_publishes(held, env, tmp_path, tp_home):
    site = tp_home / "site" / "tools" / "split-tool.html"
    r = cli("publish", env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert ("1 tool waits for an editor (the site shows their published verdict, or \"awaiting editor check\"): "
            "see why with toolpanel queue; publish with toolpanel approve SLUG --editor NAME") in r.stdout
    assert "Awaiting editor check" in Page(site.read_text()).text
    r = cli("approve", "split-tool", "--editor", "Ada Lovelace", "--note", "two lenses disagree, fairly",
            "--json", env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    done = json.loads(r.stdout)
    assert done["decision"] == "approved" and done["editor"] == "Ada Lovelace" and done["published"] is True
    assert rows(tp_home / "warehouse.duckdb", "SELECT decision, editor, note FROM decisions WHERE editor IS NOT NULL") == [
        ("approved", "Ada Lovelace", "two lenses disagree, fairly")]
    page = Page(site.read_text()).text
    assert "Ship · 3 ship / 2 skip" in page and "Awaiting editor check" not in page
    assert cli("queue", env=env, cwd=tmp_path).stdout.strip() == "Nothing is held: every complete verdict is published."


def test_reject_and_mistakes_exit_with_the_table_codes(held, env, tmp_path, tp_home):
    r = cli("approve", "split-tool", env=env, cwd=tmp_path)
    assert r.returncode == 2 and "--editor" in r.stderr  # the editor's name is required
    r = cli("approve", "split-tool", "--editor", "  ", env=env, cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip() == ("error: field 'editor': the editor's name is empty — give your name: --editor NAME "
                                "(it is recorded with the decision)")
    r = cli("approve", "smolvlm2-turbo", "--editor", "Ada", env=env, cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.strip() == ("error: field 'slug': no held verdict of 'smolvlm2-turbo' — see what waits with: "
                                "toolpanel queue (held now: split-tool)")
    r = cli("reject", "split-tool", "--editor", "Ada", "--note", "the panel misread the pricing", env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "rejected split-tool" in r.stdout
    page = Page((tp_home / "site" / "tools" / "split-tool.html").read_text()).text
    assert "Awaiting editor check" in page and "Ship · 3 ship / 2 skip" not in page
