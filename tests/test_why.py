"""`toolpanel why` through the real CLI (fake provider on loopback), the tool page section, the digest and
the verdict_changes view in the analyst snapshot."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import duckdb
import pytest

from tests.helpers import FIXTURE_PERSONAS, ROOT, SEED_A, cli, project_toml, rows
from tests.test_publish import Page

SLUG = "smolvlm2-turbo"
PRICING = "Pricing: $20/month for the hosted tier, billed annually, with a free trial for teams."


@pytest.fixture
def env(tp_home, provider_env, tmp_path) -> dict:
    project_toml(tmp_path)  # the fixture panel, for the `toolpanel` subprocesses (cwd tmp_path)
    return {k: os.environ[k] for k in ("TOOLPANEL_HOME", "OPENAI_BASE_URL", "OPENAI_API_KEY", "TOOLPANEL_MODEL")}


@pytest.fixture
def card(tmp_path) -> Path:
    path = tmp_path / "cards" / "smolvlm2-turbo.md"
    path.parent.mkdir()
    path.write_text(SEED_A.read_text().rstrip() + "\n\n" + PRICING + "\n")
    return path


def review(env, tmp_path, *args) -> None:
    r = cli("review", str(tmp_path / "cards"), *args, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr


def why(env, tmp_path, *args) -> str:
    r = cli("why", SLUG, *args, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_description_change_is_named_on_cli_page_digest_and_view(env, provider_env, tmp_path, card):
    fake = provider_env
    fake.script("valid", score=80, verdict="ship")
    fake.script("valid", persona="skeptic", score=78, verdict="ship")
    review(env, tmp_path)
    assert "one published verdict so far: nothing to compare yet" in why(env, tmp_path)

    card.write_text(card.read_text().replace(PRICING, ""))  # the vendor dropped its pricing paragraph
    for p in ("skeptic", "founder", "builder"):
        fake.script("valid", persona=p, score=45, verdict="skip")
    review(env, tmp_path)

    # the flip is held (holds are on by default): `why` explains it when asked to include held verdicts
    assert "A newer verdict waits for an editor (Skip · 2 ship / 3 skip, held: " in why(env, tmp_path)
    out = why(env, tmp_path, "--include-held")
    assert "      held — waits for an editor: " in out
    assert ("Builder went ship → skip (80 → 45), Skeptic went ship → skip (78 → 45) and Founder went ship → skip "
            "(80 → 45) after the description lost 14 words ('Pricing: $20/month for the hosted tier, …'); personas, "
            "model and prompts unchanged.") in out
    assert "from  Ship · 5 ship / 0 skip" in out and "to    Skip · 2 ship / 3 skip" in out
    assert "Skeptic         ship 78 → skip 45      -33" in out
    assert "Futurist        ship 80 → ship 80" in out
    data = json.loads(cli("why", SLUG, "--json", "--include-held", env=env, cwd=tmp_path).stdout)
    assert data["change"]["description_changed"] is True and data["change"]["description"]["removed_words"] == 14
    assert data["change"]["templates_changed"] is False and data["change"]["templates"] == []

    # the analyst snapshot (refreshed after the review) carries the view
    snap = Path(env["TOOLPANEL_HOME"]) / "analyst.duckdb"
    (row,) = rows(snap, "SELECT from_verdict, to_verdict, verdict_flipped, description_changed, personas_changed, "
                        "templates_changed, changed_templates, model_changed, forced_identical, "
                        "[d.score_delta FOR d IN persona_deltas IF d.persona_id = 'skeptic'] "
                        "FROM verdict_changes WHERE slug = ?", [SLUG])
    assert row == ("ship", "skip", True, True, False, False, [], False, False, [-33])

    # the editor publishes the flip
    assert cli("approve", SLUG, "--editor", "Ada", env=env, cwd=tmp_path).returncode == 0
    assert cli("publish", env=env, cwd=tmp_path).returncode == 0
    site = Path(env["TOOLPANEL_HOME"]) / "site"
    page = Page((site / f"tools/{SLUG}.html").read_text())
    assert ("What changed since the last verdict Builder went ship → skip (80 → 45), Skeptic went ship → skip "
            "(78 → 45) and Founder went ship → skip (80 → 45) after the description lost 14 words") in page.text
    assert "Description lost 14 words ('Pricing: $20/month for the hosted tier, …') Personas unchanged" in page.text
    digest = Page((site / "digest/index.html").read_text())
    assert ("Changed verdicts SmolVLM2 Turbo : Ship → Skip · 2 ship / 3 skip (Split). Builder went ship → skip "
            "(80 → 45)") in digest.text  # the new verdict with its confidence band (scoring/band.py)


def test_persona_edit_names_persona_and_field(env, provider_env, tmp_path, card):
    personas = tmp_path / "personas"
    shutil.copytree(FIXTURE_PERSONAS, personas)
    (tmp_path / "toolpanel.toml").write_text('personas_dir = "personas"\n[hold]\nsplit = false\n')  # attribution, not holds
    provider_env.script("valid", persona="skeptic", score=78, verdict="ship")
    review(env, tmp_path)
    f = personas / "skeptic.yaml"
    f.write_text(f.read_text().replace("dry and specific", "dry, specific and blunt about price", 1))
    provider_env.script("valid", persona="skeptic", score=52, verdict="skip")
    review(env, tmp_path)
    out = why(env, tmp_path)
    assert "Skeptic went ship → skip (78 → 52) after Skeptic's persona file changed (voice)" in out
    assert "description, model and prompts unchanged." in out
    assert "Persona      Skeptic: voice lost 2 words ('dry') and gained 5 ('blunt about price,')" in out


def test_forced_rereview_and_model_change(env, provider_env, tmp_path, card):
    project_toml(tmp_path, "[hold]\nsplit = false\n")  # attribution, not holds: all published
    provider_env.script("valid", persona="skeptic", score=78, verdict="ship")
    review(env, tmp_path)
    provider_env.script("valid", persona="skeptic", score=58, verdict="skip")
    review(env, tmp_path, "--force")
    assert ("Skeptic went ship → skip (78 → 58) on a forced re-review of identical inputs: provider variance."
            in why(env, tmp_path))
    runs = [r["run_id"] for r in json.loads(cli("history", SLUG, "--json", env=env, cwd=tmp_path).stdout)["runs"]]

    review(env, tmp_path, "--model", "fake-model-2")
    out = why(env, tmp_path)
    assert ("No take moved although the model changed (fake-model-1 → fake-model-2); description, personas and "
            "prompts unchanged.") in out
    assert "Model        fake-model-1 → fake-model-2 (Builder, Skeptic, Futurist, Founder, Creator)" in out
    # any two runs: the first against the model change
    out = why(env, tmp_path, "--from", runs[0])
    assert "the model changed (fake-model-1 → fake-model-2)" in out and runs[0] in out

    r = cli("why", SLUG, "--from", "run_nope", env=env, cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.strip() == (f"error: no run or verdict 'run_nope' for {SLUG} — pick a run with a verdict: "
                                f"toolpanel history {SLUG} --json lists them")
    r = cli("why", "smolvlm-turbo", env=env, cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.strip() == ("error: no tool 'smolvlm-turbo' in the warehouse — did you mean smolvlm2-turbo? "
                                "(review its card first: toolpanel review CARD)")


def test_runs_recorded_before_run_inputs_report_unknown(env, provider_env, tmp_path, card):
    prompts = tmp_path / "prompts"
    shutil.copytree(ROOT / "prompts", prompts)
    personas = tmp_path / "personas"
    shutil.copytree(FIXTURE_PERSONAS, personas)
    (tmp_path / "toolpanel.toml").write_text('personas_dir = "personas"\nprompts_dir = "prompts"\n')
    review(env, tmp_path)
    db = Path(env["TOOLPANEL_HOME"]) / "warehouse.duckdb"
    con = duckdb.connect(str(db))  # as if the first run was recorded before migration 6
    for table in ("run_inputs", "prompt_templates", "persona_files"):
        con.execute(f"DELETE FROM {table}")
    con.close()

    (prompts / "system.j2").write_text((prompts / "system.j2").read_text() + "\nBe brief.\n")
    (personas / "skeptic.yaml").write_text((personas / "skeptic.yaml").read_text() + "\n# edited\n")
    review(env, tmp_path)
    out = why(env, tmp_path)
    assert "the prompt templates changed (which ones is unknown: the earlier run predates per-template records)" in out
    assert "Skeptic's persona file changed (which fields is unknown" in out
    assert "Prompts      changed; which templates: unknown" in out
    assert rows(db, "SELECT templates_changed, changed_templates FROM verdict_changes") == [(True, None)]

    # both runs recorded: the template is named, and a comment-only persona edit is formatting
    (prompts / "system.j2").write_text((prompts / "system.j2").read_text() + "Be kind.\n")
    (personas / "skeptic.yaml").write_text((personas / "skeptic.yaml").read_text() + "# again\n")
    review(env, tmp_path)
    out = why(env, tmp_path)
    assert "the prompt template system.j2 changed" in out
    assert "Skeptic's persona file changed (formatting only)" in out
    assert rows(db, "SELECT changed_templates FROM verdict_changes ORDER BY changed_at") == [(None,), (["system.j2"],)]
