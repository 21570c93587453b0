"""Issue 24: one record behind every line. Each tool's block and the summary line are printed from the same
per-tool counts (toolpanel.panel.summary.ToolCounts), in words that say tools or takes; "held" only when a hold
decision exists. Real `toolpanel` subprocesses against the fake OpenAI server on loopback."""

from __future__ import annotations

import json
import os
import re

import pytest

from tests.helpers import cli, project_toml, write_card

OLD_KEYS = {"reviewed", "rejected", "errored", "requests", "paid_takes", "cached_takes", "failed_takes",
            "incomplete_verdicts", "without_quorum", "short_panel", "held", "journaled_takes", "warehouse_busy",
            "cost_usd", "budget_stopped", "budget_cap"}


@pytest.fixture
def env(tp_home, provider_env, tmp_path) -> dict:
    project_toml(tmp_path)  # the fixture panel, for the `toolpanel` subprocesses (cwd tmp_path)
    return {k: os.environ[k] for k in ("TOOLPANEL_HOME", "OPENAI_BASE_URL", "OPENAI_API_KEY", "TOOLPANEL_MODEL")}


def _blocks(stdout: str) -> list[str]:
    """Each tool's block, as printed: from its rule to its counts line."""
    return re.findall(r"^─+ .+? ─+$(.*?)^(\d+ takes? asked [^\n]*)$", stdout, re.M | re.S)


def test_a_provider_that_fails_every_request_says_the_same_in_the_block_and_the_summary(env, provider_env, tmp_path):
    provider_env.script("500")
    card = write_card(tmp_path / "cards", "good-card-1", name="Good Card")
    r = cli("review", str(card), env=env, cwd=tmp_path)
    assert r.returncode == 3, r.stderr
    out = r.stdout
    [(block, counts)] = _blocks(out)
    assert counts == "5 takes asked (0 answered, 5 failed) · 0 takes cached"
    # an incomplete verdict is flagged, never "held": the summary counts 0 held, and the block agrees
    assert "\nheld " not in "\n" + out and re.search(r"^flagged good-card-1: 5 failed takes: builder", block, re.M)
    summary = next(line for line in out.splitlines() if line.startswith("1 tool reviewed"))
    assert summary == ("1 tool reviewed (0 held, 1 incomplete) · 0 tools failed · 0 inputs rejected · "
                       f"{counts} · 30 requests · cost unknown (no price configured)")
    assert " paid" not in out  # one word for a take the model was asked for, the same everywhere

    s = json.loads(cli("review", str(card), "--json", env=env, cwd=tmp_path).stdout)["summary"]
    assert OLD_KEYS <= s.keys()  # --json readers keep every key they had
    assert (s["paid_takes"], s["failed_takes"], s["asked_takes"], s["held"], s["errored"]) == (0, 5, 5, 0, 0)
    assert s["per_tool"] == [{"slug": "good-card-1", "outcome": "reviewed", "asked": 5, "answered": 0, "failed": 5,
                              "cached": 0, "held": False, "flagged": True, "incomplete": True,
                              "without_quorum": False, "short_panel": False}]


def test_every_block_adds_up_to_the_summary_and_held_means_held(env, provider_env, tmp_path):
    from tests.test_holds import script_split

    cards = tmp_path / "cards"
    write_card(cards, "split-tool", name="Split Tool")
    write_card(cards, "broken-tool", name="Broken Tool")
    script_split(provider_env, "split-tool")
    provider_env.script("500", tool="broken-tool", persona="builder")
    provider_env.script("500", tool="broken-tool", persona="skeptic")
    r = cli("review", str(cards), env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr  # 3 of 5 is a quorum: broken-tool is complete, held for its 2 failed takes
    out = r.stdout
    counts = sorted(c for _, c in _blocks(out))
    assert counts == ["5 takes asked (3 answered, 2 failed) · 0 takes cached",
                      "5 takes asked (5 answered, 0 failed) · 0 takes cached"], out
    # a hold decision exists for both: "held" in each block, in the summary and in the list of held verdicts
    assert re.search(r"^held split-tool: split panel", out, re.M)
    assert re.search(r"^held broken-tool: 2 failed takes: builder \(InternalServerError\), skeptic", out, re.M)
    assert "\nflagged " not in out
    # requests: the takes' (retries included) and each verdict's panel summary (issue 27)
    assert ("2 tools reviewed (2 held, 0 incomplete) · 0 tools failed · 0 inputs rejected · 10 takes asked "
            "(8 answered, 2 failed) · 0 takes cached · 22 requests · ") in out
    assert "2 held for an editor" in out
