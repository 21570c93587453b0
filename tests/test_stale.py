"""Stale verdicts: after a prompt or persona change, tools whose verdict came from older versions are
re-reviewed, oldest first, at most [flows] max_stale_per_run per daily run."""

from __future__ import annotations

import datetime as dt
import shutil

from tests.helpers import FIXTURE_PERSONAS, cli, rows, write_card
from tests.test_panel import review
from toolpanel.ingest.intake import Intake, for_review
from toolpanel.models import Tool


def project(tmp_path, cap: int | None = None):
    """Three cards, a copy of the fixture panel's personas (to edit), and a toolpanel.toml using both."""
    shutil.copytree(FIXTURE_PERSONAS, tmp_path / "personas")
    cards = tmp_path / "cards"
    cards.mkdir()
    paths = [write_card(cards, slug) for slug in ("alpha-tool", "beta-tool", "gamma-tool")]
    flows = f"\n[flows]\nmax_stale_per_run = {cap}\n" if cap is not None else ""
    (tmp_path / "toolpanel.toml").write_text(
        f'personas_dir = "personas"\n[sources.cards]\nkind = "cards"\npath = "cards"\n{flows}')
    return paths


def edit_persona(tmp_path) -> None:
    path = tmp_path / "personas" / "skeptic.yaml"
    path.write_text(path.read_text().replace("dry and specific", "dry, specific"))


def test_ingest_shows_stale_tools_after_a_persona_change(tp_home, provider_env, tmp_path):
    paths = project(tmp_path)
    review(paths)
    env = {"TOOLPANEL_HOME": str(tp_home)}
    r = cli("ingest", cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    assert "0 stale (3 unchanged)" in r.stdout

    edit_persona(tmp_path)
    r = cli("ingest", cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    assert "cards (cards): 3 items — 3 stale" in r.stdout
    assert "  stale      alpha-tool" in r.stdout and "— prompt or persona changed" in r.stdout
    assert "Would bring in: 0 new, 0 changed, 0 pending, 3 stale (0 unchanged)" in r.stdout

    # re-reviewed with the new persona version: no longer stale (the other personas' takes come from the cache)
    provider_env.reset()
    review(paths, reason="prompt or persona changed")
    assert provider_env.calls() == 3 + 3  # only the skeptic's takes are new (and each new verdict's panel summary)
    assert "0 stale (3 unchanged)" in cli("ingest", cwd=tmp_path, env=env).stdout


def test_cap_is_reported_by_ingest(tp_home, provider_env, tmp_path):
    paths = project(tmp_path, cap=2)
    review(paths)
    edit_persona(tmp_path)
    r = cli("ingest", cwd=tmp_path, env={"TOOLPANEL_HOME": str(tp_home)})
    assert "3 stale (a daily run re-reviews 2, oldest verdict first)" in r.stdout


def test_bad_cap_names_the_key(tp_home, tmp_path):
    (tmp_path / "toolpanel.toml").write_text("[flows]\nmax_stale_per_run = -1\n")
    r = cli("ingest", cwd=tmp_path, env={"TOOLPANEL_HOME": str(tp_home)})
    assert r.returncode == 2
    assert "toolpanel.toml: [flows] max_stale_per_run: Input should be greater than or equal to 0" in r.stderr


def _intake(slug: str, status: str, day: int | None = None) -> Intake:
    tool = Tool(name=slug, slug=slug, description="d")
    return Intake(tool, status, verdict_at=dt.datetime(2026, 1, day) if day else None)


def test_for_review_takes_the_oldest_stale_verdicts_up_to_the_cap():
    intakes = [_intake("new-one", "new"), _intake("s3", "stale", 3), _intake("same", "unchanged"),
               _intake("s1", "stale", 1), _intake("s2", "stale", 2), _intake("p", "pending")]
    assert [i.tool.slug for i in for_review(intakes, 2)] == ["new-one", "s1", "s2", "p"]
    assert [i.tool.slug for i in for_review(intakes, 0)] == ["new-one", "p"]
    assert {i.reason for i in intakes if i.status == "stale"} == {"prompt or persona changed"}
