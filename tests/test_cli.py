"""The `toolpanel` command as a user runs it (real subprocesses, real files, fake provider on loopback)."""

from __future__ import annotations

import json
import re
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import EXAMPLES, REMOTE_LIKE, ROOT, SEED_A, SEED_B, cli, project_toml, rows, write_card

BAD = ROOT / "examples" / "bad-cards"


@pytest.fixture
def env(tp_home, provider_env, tmp_path) -> dict:
    project_toml(tmp_path, REMOTE_LIKE)
    return {k: os.environ[k] for k in ("TOOLPANEL_HOME", "OPENAI_BASE_URL", "OPENAI_API_KEY", "TOOLPANEL_MODEL")}


def test_review_prints_seed_style_scorecard(env, provider_env, tmp_path):
    fake = provider_env
    fake.script("abstain", persona="creator")
    for p, score in (("builder", 85), ("skeptic", 78), ("futurist", 82), ("founder", 72)):
        fake.script("valid", persona=p, tool="smolvlm2-turbo", score=score, verdict="ship")
    r = cli("review", str(SEED_A), env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "SmolVLM2 Turbo" in out
    assert "Ship · 4 ship / 0 skip" in out and "Panel ship 100%" in out
    assert "Builder  85/100 · ship" in out and "Skeptic  78/100 · ship" in out
    assert "Creator  No panel take" in out
    assert "Best for: Sub-2B vision-language model that actually runs on your phone" in out
    # 5 takes and the chair's panel summary (issue 27): 6 requests; the band beside the verdict
    assert ("1 tool reviewed (0 held, 0 incomplete) · 0 tools failed · 0 inputs rejected · 5 takes asked "
            "(5 answered, 0 failed) · 0 takes cached · 6 requests · cost unknown (no price configured)") in out
    assert "Confidence: Unanimous · 4 of 5 voices" in out and "Panel summary" in out


def test_bad_cards_get_one_line_each_and_the_rest_are_reviewed(env, tmp_path):
    r = cli("review", str(BAD), str(SEED_A), str(tmp_path / "nope.md"), env=env, cwd=tmp_path)
    assert r.returncode == 1  # some input failed
    rejected = [line for line in r.stderr.splitlines() if line.startswith("rejected ")]
    assert len(rejected) == len(list(BAD.iterdir())) + 1
    assert (f"rejected {BAD}/unknown-field.yaml: fields 'launch_date', 'price': unknown fields — rename "
            "'launch_date' → 'launched', 'price' → 'pricing'") in rejected
    assert (f"rejected {BAD}/huge-description.md: field 'description': is 23,239 characters, over the cap of "
            "8,000 — trim it to at most 8,000 characters") in rejected
    assert f"rejected {tmp_path}/nope.md: no such file or directory — check the path" in rejected
    assert "Ship ·" in r.stdout or "Skip ·" in r.stdout  # the good card was still reviewed
    assert re.search(r"1 tool reviewed \(\d held, 0 incomplete\) · 0 tools failed · 9 inputs rejected · ", r.stdout)


def test_json_output_and_rerun_is_cached(env, provider_env, tmp_path):
    fake = provider_env
    r = cli("review", str(SEED_A), str(SEED_B), "--json", env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert [x["slug"] for x in data["reviews"]] == ["smolvlm2-turbo", "openrouter-model-fusion"]  # the order given
    assert all(x["paid_calls"] == 5 for x in data["reviews"])
    assert data["reviews"][0]["verdict"]["label"].split(" · ")[0] in ("Ship", "Skip")
    again = json.loads(cli("review", str(EXAMPLES / "smolvlm2-turbo.md"), "--json", env=env, cwd=tmp_path).stdout)
    assert again["reviews"][0]["paid_calls"] == 0 and again["reviews"][0]["run_id"] is None
    assert fake.calls() == 10 + 2  # and the chair's panel summary of each new verdict (issue 27)


def test_history_and_compare(env, provider_env, tmp_path):
    fake = provider_env
    fake.script("valid", score=80, verdict="ship")
    fake.script("abstain", persona="founder", tool="openrouter-model-fusion")
    fake.script("valid", persona="skeptic", tool="openrouter-model-fusion", score=45, verdict="skip")
    assert cli("review", str(SEED_A), str(SEED_B), env=env, cwd=tmp_path).returncode == 0
    assert cli("review", str(SEED_A), "--force", "--reason", "editor asked", env=env, cwd=tmp_path).returncode == 0

    h = cli("history", "smolvlm2-turbo", env=env, cwd=tmp_path)
    assert h.returncode == 0, h.stderr
    assert "editor asked" in h.stdout and h.stdout.count("complete") == 2
    hj = json.loads(cli("history", "smolvlm2-turbo", "--json", env=env, cwd=tmp_path).stdout)
    assert [run["forced"] for run in hj["runs"]] == [False, True]
    assert [run["band"] for run in hj["runs"]] == ["Unanimous", "Unanimous"]  # 5 ship at 80: every persona counted

    c = cli("compare", "smolvlm2-turbo", "openrouter-model-fusion", env=env, cwd=tmp_path)
    assert c.returncode == 0, c.stderr
    assert "SmolVLM2 Turbo vs OpenRouter Model Fusion" in c.stdout
    assert "Which one should you ship with?" in c.stdout
    assert "Ship · 3 ship / 1 skip" in c.stdout and "No panel take" in c.stdout
    assert "Pay-per-token (per model in fusion pool)" in c.stdout
    cj = json.loads(cli("compare", "smolvlm2-turbo", "openrouter-model-fusion", "--json", env=env, cwd=tmp_path).stdout)
    assert cj["b"]["verdict"]["label"] == "Ship · 3 ship / 1 skip"
    assert cj["b"]["verdict"]["ship_pct"] == 75.0
    assert cj["comparison"]["pick"] in ("a", "b", "tie")
    assert cj["comparison"]["reason"]


def test_history_shows_each_verdicts_band_fewer_voices_when_a_persona_failed(env, provider_env, tmp_path):
    """`history`: a confidence column and a "band" per run (scoring/band.py); the founder's take failed, so the
    verdict stands on 4 of 5 voices; a run with no verdict (too few positions) shows "—" and null."""
    fake = provider_env
    fake.script("valid", score=80, verdict="ship")
    fake.script("contradiction", persona="founder")  # still contradictory after the repair: a failed take
    cli("review", str(SEED_A), env=env, cwd=tmp_path)
    for p in ("skeptic", "futurist"):  # the re-review has 2 positions of the 3 a verdict needs: incomplete
        fake.script("contradiction", persona=p)
    cli("review", str(SEED_A), "--force", env=env, cwd=tmp_path)

    h = cli("history", "smolvlm2-turbo", env=env, cwd=tmp_path)
    assert h.returncode == 0, h.stderr
    header = next(ln for ln in h.stdout.splitlines() if "started" in ln)
    assert [c.strip() for c in header.split("┃")[1:-1]] == [
        "started", "trigger", "reason", "status", "verdict", "confidence", "decision", "ship %", "mean", "paid",
        "cached"]
    table = [[c.strip() for c in ln.split("│")[1:-1]] for ln in h.stdout.splitlines() if re.match(r"│\s*20\d\d-", ln)]
    assert [r[3:7] for r in table] == [["complete", "Ship · 4 ship / 0 skip", "Unanimous · 4 of 5 voices", "held (1)"],
                                       ["incomplete", "—", "—", "no verdict"]]
    runs = json.loads(cli("history", "smolvlm2-turbo", "--json", env=env, cwd=tmp_path).stdout)["runs"]
    assert [(r["status"], r["band"]) for r in runs] == [("complete", "Unanimous · 4 of 5 voices"), ("incomplete", None)]


def test_unknown_slug_suggests_close_matches(env, tmp_path):
    cli("review", str(SEED_A), env=env, cwd=tmp_path)
    r = cli("compare", "smolvlm-turbo", "smolvlm2-turbo", env=env, cwd=tmp_path)
    assert r.returncode == 1
    assert ("error: no tool 'smolvlm-turbo' in the warehouse — did you mean smolvlm2-turbo? "
            "(review its card first: toolpanel review CARD)") in r.stderr


def test_bad_config_names_file_key_and_fix(env, tmp_path):
    (tmp_path / "toolpanel.toml").write_text('[provider]\napi_key = "sk-123"\n')
    r = cli("review", str(SEED_A), env=env, cwd=tmp_path)
    assert r.returncode == 2
    assert f"{tmp_path}/toolpanel.toml: unknown key(s) in [provider]: api_key" in r.stderr
    assert "put the API key in OPENAI_API_KEY" in r.stderr


def test_killed_batch_resumes_paying_only_for_missing_takes(env, provider_env, tmp_path):
    fake = provider_env
    for i in range(3):
        write_card(tmp_path / "cards", f"tool-{i}")
    fake.script("latency", persona="creator", seconds=60)  # creators hang; the other 12 takes land
    proc = subprocess.Popen([str(Path(sys.executable).parent / "toolpanel"), "review", str(tmp_path / "cards")],
                            env=dict(os.environ, **env), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    db = Path(env["TOOLPANEL_HOME"]) / "warehouse.duckdb"
    deadline = time.monotonic() + 60
    stored = 0
    while time.monotonic() < deadline:
        if fake.calls() >= 15:
            try:
                stored = rows(db, "SELECT count(*) FROM takes")[0][0]
            except Exception:  # the writer holds the file for a moment
                stored = 0
            if stored == 12:
                break
        time.sleep(0.1)
    assert stored == 12
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    fake.reset()  # the provider recovers
    r = cli("review", str(tmp_path / "cards"), env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    # only what was missing, 3 summaries, and the answers of the comparisons the published verdicts made due
    pairs = fake.calls(persona="pair")
    assert fake.calls() - pairs == 3 + 3 and fake.calls(persona="creator") == 3
    # (held verdicts: the fake's default scores split some panels; holds are not what this test is about)
    assert re.search(r"3 tools reviewed \(\d held, 0 incomplete\) · 0 tools failed · 0 inputs rejected · "
                     rf"3 takes asked \(3 answered, 0 failed\) · 12 takes cached · {6 + pairs} requests", r.stdout), r.stdout
    assert rows(db, "SELECT count(*), count(DISTINCT (snapshot_hash, persona_version, prompt_hash, model)) "
                    "FROM takes") == [(15, 15)]
    assert rows(db, "SELECT status, count(*) FROM run_history GROUP BY status ORDER BY status") == [
        ("abandoned", 3), ("complete", 3)]
    assert rows(db, "SELECT count(*) FROM verdicts")[0][0] == 3


def test_flags_and_quotes_in_scorecard_and_compare_table(env, provider_env, tmp_path):
    fake = provider_env
    fake.script("ungrounded", persona="skeptic", tool="smolvlm2-turbo", score=78)
    fake.script("contradiction_then_valid", persona="builder", tool="openrouter-model-fusion", score=30,
                verdict="skip")
    r = cli("review", str(SEED_A), str(SEED_B), env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Skeptic  78/100 · ship (flagged: quote not in the card)" in r.stdout
    assert "Builder  30/100 · skip (flagged: verdict contradicted score, repaired)" in r.stdout
    assert "“the fastest tool of its kind, trusted by every Fortune 500 company”" in r.stdout
    # (flagged takes are held for an editor: --include-held shows those verdicts, marked)
    c = cli("compare", "smolvlm2-turbo", "openrouter-model-fusion", "--include-held", env=env, cwd=tmp_path)
    assert c.returncode == 0, c.stderr
    flat = " ".join(c.stdout.split())
    assert "quote not in the card" in flat and "verdict contradicted score, repaired" in flat


def test_still_contradictory_take_is_shown_as_failed_and_not_counted(env, provider_env, tmp_path):
    provider_env.script("contradiction", persona="founder")
    r = cli("review", str(SEED_A), env=env, cwd=tmp_path)
    assert "Founder  Failed (invalid_output)" in r.stdout
    flat = " ".join(r.stdout.split())
    assert "verdict 'ship' with score 20 breaks the rule: the verdict must match the score" in flat
    (ships, skips, failed), = rows(tp_home_db(env), "SELECT ship_count, skip_count, failed_count FROM verdicts")
    assert (ships + skips, failed) == (4, 1)


def tp_home_db(env: dict) -> Path:
    return Path(env["TOOLPANEL_HOME"]) / "warehouse.duckdb"
