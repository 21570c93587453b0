"""Issue 27, the panel's second round (`[panel] rounds = 2`) and `toolpanel eval --configs`: both rounds in the
warehouse, the verdict from the final round, the round-two cache, who is asked again, the budget, `why`
between rounds, herding (scoring.deliberation) and configurations side by side, with scripted reviewers that
herd and that ignore the others (tests/fake_model.py `herd`/`ignore`, tests/fake_openai.py "herd"/"ignore")."""

from __future__ import annotations

import asyncio
import json
import os
import re

import pytest

from scoring.deliberation import herding, moves
from tests.fake_model import MALFORMED, FakeModel, herd, ignore, take
from tests.helpers import PERSONA_IDS, SEED_A, cli, project_toml, rows, write_card
from tests.test_eval import gold_items
from toolpanel.config import Settings, load_settings
from toolpanel.errors import ConfigError
from toolpanel.eval.configs import EvalConfig, EvalConfigError, load_configs
from toolpanel.eval.side_by_side import run_configs, side_by_side
from toolpanel.ingest.cards import load_cards
from toolpanel.panel.batch import run_review
from toolpanel.panel.llm import LLM
from toolpanel.panel.personas import load_personas
from warehouse.rows import now
from toolpanel.models import Take

SLUG = "smolvlm2-turbo"


def review(tmp_path, toml: str = "[panel]\nrounds = 2\n", **kw):
    (tmp_path / "toolpanel.toml").write_text(toml)
    settings = load_settings(timeout=2.0, max_retries=0)
    personas = load_personas(settings.personas_dir)
    tools, errors = load_cards([SEED_A])
    assert not errors
    return settings, run_review(settings, personas, tools, **kw).results


def take_calls(fake: FakeModel, round_: int | None = None) -> list:
    """The take requests (not the chair's panel summary)."""
    return [r for r in fake.requests if r.persona and "panel summary" not in r.body["messages"][-1]["content"]
            and round_ in (None, r.round)]


# --------------------------------------------------------------------------- the review


def test_two_rounds_store_both_and_the_verdict_counts_the_final_round(fake_model, tmp_path):
    fake = fake_model
    fake.reply = herd()
    fake.enqueue("skeptic", take(40, "skip"))  # round one: the skeptic alone says skip
    settings, [res] = review(tmp_path)
    db = settings.warehouse_path
    got = rows(db, "SELECT persona_id, round, verdict, len(coalesce(seen_take_ids, [])) FROM takes "
                   "ORDER BY round, persona_id")
    assert [(p, r) for p, r, _, _ in got] == [(p, 1) for p in sorted(PERSONA_IDS)] + [(p, 2) for p in sorted(PERSONA_IDS)]
    assert dict((p, v) for p, r, v, _ in got if r == 1)["skeptic"] == "skip"
    assert {v for _, r, v, _ in got if r == 2} == {"ship"}  # the herding skeptic went over
    assert {n for _, r, _, n in got if r == 2} == {5}  # its own round-one take and four others
    (take_ids, ships, skips), = rows(db, "SELECT take_ids, ship_count, skip_count FROM verdicts")
    second = {r[0] for r in rows(db, "SELECT take_id FROM takes WHERE round = 2")}
    assert set(take_ids) == second and (ships, skips) == (5, 0)  # the final round only
    assert rows(db, "SELECT count(*) FROM run_takes")[0][0] == 10  # both rounds belong to the run
    assert res.paid_calls == 10 and len(res.round_one) == 5 and {t.round for t in res.takes} == {2}
    # each round-two take saw its own round-one take first, then the other four
    own = dict(rows(db, "SELECT persona_id, take_id FROM takes WHERE round = 1"))
    for pid, seen in rows(db, "SELECT persona_id, seen_take_ids FROM takes WHERE round = 2"):
        assert seen[0] == own[pid] and sorted(seen[1:]) == sorted(v for k, v in own.items() if k != pid)


def test_round_two_prompt_is_anonymised_shuffled_and_datamarked(fake_model, tmp_path):
    fake_model.reply = ignore()
    review(tmp_path)
    seconds = take_calls(fake_model, 2)
    assert len(seconds) == 5 and len(take_calls(fake_model, 1)) == 5
    orders = set()
    for req in seconds:
        last = req.body["messages"][-1]["content"]
        assert [m for m in re.findall(r"^Reviewer ([A-Z]):", last, re.M)] == ["A", "B", "C", "D"]
        others = [p for p in PERSONA_IDS if p != req.persona]
        assert not any(re.search(rf"\b{p}\b", last, re.I) for p in others), last  # no other persona named
        assert "AsˆReviewerˆ" in last  # "As the skeptic on this panel" became the letter, and is datamarked
        marker = re.search(r"^(PANEL-DATA-[0-9a-f]{16})$", last, re.M).group(1)
        assert f"END-{marker}" in last
        scores = [int(s) for s in re.findall(r"^Reviewer [A-Z]: \w+, score (\d+)", last, re.M)]
        orders.add(tuple(scores))
    assert len(orders) > 1  # not one fixed order for everyone


def test_round_two_cache_needs_the_same_round_one_takes(fake_model, tmp_path):
    fake = fake_model
    fake.reply = ignore()
    settings, _ = review(tmp_path)
    assert len(take_calls(fake)) == 10
    settings, [again] = review(tmp_path)
    assert len(take_calls(fake)) == 10 and again.run_id is None and again.cached_takes == 10  # nothing paid

    # a new round-one take of one persona changes what every other persona saw: round two is asked again
    settings, [forced] = review(tmp_path, only=["skeptic"], force=True)
    assert len(take_calls(fake)) == 10 + 2  # the skeptic, both rounds (the others are carried)
    store_rows = rows(settings.warehouse_path, "SELECT round, count(*) FROM takes GROUP BY round ORDER BY round")
    assert store_rows == [(1, 6), (2, 6)]

    # a round-two take is never served as round one: the round-one lookup finds round-one takes only
    from warehouse.store import Warehouse

    store = Warehouse(settings.warehouse_path)
    second = store.run_takes(forced.run_id)
    r2 = next(t for t in second if t.round == 2)
    assert store.cached_takes([r2.cache_key]) == {}
    assert store.cached_second_round({r2.cache_key: r2.seen_take_ids})[r2.cache_key].take_id == r2.take_id
    assert store.cached_second_round({r2.cache_key: list(reversed(r2.seen_take_ids))}) == {}


def test_failed_and_abstained_personas_are_not_asked_again(fake_model, tmp_path):
    fake = fake_model
    fake.reply = herd()
    fake.enqueue("creator", take(abstain=True))
    fake.enqueue("founder", MALFORMED, MALFORMED)  # invalid twice: a failed take
    settings, [res] = review(tmp_path)
    assert sorted({r.persona for r in take_calls(fake, 2)}) == ["builder", "futurist", "skeptic"]
    last = take_calls(fake, 2)[0].body["messages"][-1]["content"]
    assert "abstained (no panel take)" in last and len(re.findall(r"^Reviewer [A-Z]:", last, re.M)) == 3
    final = {t.persona_id: (t.round, t.status) for t in res.takes}
    assert final == {"builder": (2, "ok"), "skeptic": (2, "ok"), "futurist": (2, "ok"), "founder": (1, "failed"),
                     "creator": (1, "abstained")}
    assert (res.verdict.failed_count, res.verdict.abstain_count) == (1, 1)


def test_no_round_two_without_a_round_one_quorum(fake_model, tmp_path):
    fake_model.reply = herd()
    for p in ("creator", "founder", "futurist"):
        fake_model.enqueue(p, take(abstain=True))
    _, [res] = review(tmp_path)
    assert len(take_calls(fake_model, 2)) == 0 and not res.verdict.quorum_met and res.round_one == []


# --------------------------------------------------------------------------- budget and `why` (real CLI)


@pytest.fixture
def env(tp_home, provider_env) -> dict:
    return {k: os.environ[k] for k in ("TOOLPANEL_HOME", "OPENAI_BASE_URL", "OPENAI_API_KEY", "TOOLPANEL_MODEL")}


def test_round_two_calls_go_through_the_budget(env, provider_env, tmp_path):
    card = str(write_card(tmp_path / "cards", "tool-a"))
    scratch = dict(env, TOOLPANEL_HOME=str(tmp_path / "scratch"))
    base = "[provider]\nconcurrency = 1\nmax_tokens = 600\n"
    project_toml(tmp_path, base)  # the fixture panel in the `toolpanel` subprocesses (cwd tmp_path)
    assert cli("review", card, env=scratch, cwd=tmp_path).returncode == 0
    est = sum(i + 600 for (i,) in rows(tmp_path / "scratch" / "warehouse.duckdb", "SELECT tokens_in FROM takes"))
    # the cap admits round one exactly (its five estimates); round two's calls no longer fit
    project_toml(tmp_path, base + f"[panel]\nrounds = 2\n[budget]\nper_run_tokens = {est}\n")
    provider_env.reset()
    r = cli("review", card, "--json", env=env, cwd=tmp_path)
    assert r.returncode == 5, r.stderr
    db = tmp_path / "home" / "warehouse.duckdb"
    assert rows(db, "SELECT round, status, count(*) FROM takes GROUP BY ALL ORDER BY ALL") == [
        (1, "ok", 5), (2, "failed", 5)]
    assert rows(db, "SELECT DISTINCT error_class FROM takes WHERE round = 2") == [("budget_exhausted",)]
    assert rows(db, "SELECT count(*) FROM verdicts") == [(0,)]  # the tool stays pending
    assert provider_env.calls() == 5  # no round-two call was sent


def test_why_shows_what_changed_between_rounds(env, provider_env, tmp_path):
    (tmp_path / "cards").mkdir()
    (tmp_path / "cards" / f"{SLUG}.md").write_text(SEED_A.read_text())
    project_toml(tmp_path, "[panel]\nrounds = 2\n")  # the fixture panel in the `toolpanel` subprocesses
    fake = provider_env
    fake.script("valid", score=80, verdict="ship")
    fake.script("valid", persona="skeptic", score=62, verdict="ship")
    fake.script("valid", persona="skeptic", score=40, verdict="skip", times=1)  # round one, then 62 ship
    assert cli("review", str(tmp_path / "cards"), env=env, cwd=tmp_path).returncode == 0
    r = cli("why", SLUG, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Between rounds (newest verdict · vd_" in r.stdout
    assert ("Round two: Skeptic moved toward the round-one majority (ship, mean 80); herding 1.00 (1 of 1 with "
            "room to move).") in r.stdout
    assert "  Skeptic moved skip 40 → ship 62 in round two, toward the round-one majority" in r.stdout
    assert "  Builder kept ship 80 → ship 80 in round two (already with the majority)" in r.stdout
    data = json.loads(cli("why", SLUG, "--json", env=env, cwd=tmp_path).stdout)
    assert data["rounds"]["herding"]["herding"] == 1.0 and data["rounds"]["herding"]["toward"] == 1


# --------------------------------------------------------------------------- herding (pure)


def _t(pid: str, score: int | None, verdict: str | None = None, status: str = "ok", rnd: int = 1) -> Take:
    return Take(take_id=f"tk-{pid}-{rnd}", tool_slug="t", snapshot_hash="h", persona_id=pid, persona_version="v",
                model="m", prompt_hash="p", status=status, score=score,
                verdict=verdict or (None if score is None else "ship" if score >= 60 else "skip"), created_at=now(),
                round=rnd)


def test_herding_definition_counts_only_personas_with_room_to_move():
    first = [_t("a", 78), _t("b", 64), _t("c", 74), _t("d", 40), _t("e", 50)]  # ship 3-2, ship mean 72
    herded = [_t(p, 72, rnd=2) for p in "abcde"]
    kinds = {m.persona_id: m.kind for m in moves(first, herded)}
    # c (74) sat within 5 points of the majority's mean: no room to move toward it; a came 6 closer, b 8
    assert kinds == {"a": "toward", "b": "toward", "c": "already", "d": "toward", "e": "toward"}
    assert herding([(first, herded)])["herding"] == 1.0
    same = [t.model_copy(update={"round": 2}) for t in first]
    assert herding([(first, same)]) == {"herding": 0.0, "room": 4, "toward": 0, "away": 0, "stayed": 4,
                                        "already": 1, "flips": 0, "points": 5}
    contrarian = [_t("a", 78, rnd=2), _t("b", 45, rnd=2), _t("c", 74, rnd=2), _t("d", 30, rnd=2), _t("e", 50, rnd=2)]
    assert {m.persona_id: m.kind for m in moves(first, contrarian)} == {
        "a": "stayed", "b": "away", "c": "already", "d": "away", "e": "stayed"}
    tie = [_t("a", 80), _t("b", 40)]
    assert moves(tie, [_t("a", 40, rnd=2), _t("b", 80, rnd=2)]) == [] and herding([(tie, tie)])["herding"] is None


# --------------------------------------------------------------------------- eval --configs


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path / "home", api_key="test", base_url="http://127.0.0.1:9/v1", model="fake-model-1",
                    prompt_profile="default")


def _side_by_side(settings, fake: FakeModel) -> list[dict]:
    personas = load_personas(settings.personas_dir)
    configs = [EvalConfig(name="one round"), EvalConfig(name="two rounds", rounds=2)]

    async def go():
        llm = LLM(settings, client=fake)
        return await run_configs(settings, personas, gold_items(), llm, configs, shuffles=False)

    return side_by_side(asyncio.run(go()))


def test_configs_measure_herding_one_for_a_herding_panel_and_zero_for_one_that_ignores(settings):
    for reply, expected in ((herd(), 1.0), (ignore(), 0.0)):
        base, two = _side_by_side(settings, FakeModel(reply=reply))
        assert base["baseline"] and base["herding"] is None and base["rounds"] == 1
        assert two["herding"] == expected and two["herding_room"] > 0
        assert two["multipliers"]["calls"] == 2.0  # every persona ok in round one: asked again
        assert two["multipliers"]["tokens"] > 2.0  # round two reads the others' takes too
        assert two["multipliers"]["cost"] is None  # no price configured: unknown, not 1
        assert base["calls"] == 30 and two["calls"] == 60
    assert two["accuracy"] == base["accuracy"]  # ignoring the others changes no verdict


def test_configs_file_errors_name_file_config_and_field(tmp_path):
    f = tmp_path / "configs.toml"

    def error(text: str) -> str:
        f.write_text(text)
        with pytest.raises(EvalConfigError) as exc:
            load_configs(f, PERSONA_IDS)
        return str(exc.value)

    assert error('[[configs]]\nname = "deliberate"\nrounds = 3\n') == (
        f"{f}: config 'deliberate': field 'rounds': 3 is not allowed — write rounds = 1 (independent takes) or "
        "rounds = 2 (a second round after reading the others)")
    assert error('[[configs]]\nname = "a"\nround = 2\n') == (
        f"{f}: config 'a': field 'round': unknown field — rename 'round' → 'rounds' (allowed: name, rounds, summary, "
        "model, models)")
    assert error('[[configs]]\nname = "a"\n[[configs]]\nrounds = 2\n') == (
        f"{f}: config #2: field 'name': is missing — give each configuration a name, e.g. name = \"two rounds\"")
    assert error('[[configs]]\nname = "pool"\nmodels = {skeptik = ["m1"]}\n') == (
        f"{f}: config 'pool': field 'models.skeptik': no persona 'skeptik' — rename 'skeptik' → 'skeptic' "
        "(the panel: builder, skeptic, futurist, founder, creator)")
    assert error('[[configs]]\nname = "a"\nsummary = "yes"\n') == (
        f"{f}: config 'a': field 'summary': 'yes' is not allowed — write summary = true or summary = false")
    assert error('[[config]]\nname = "a"\n') == (
        f"{f}: unknown key 'config' — rename 'config' → 'configs'; list them as [[configs]] tables (TOML) or a "
        "configs: list (YAML), each with a name — see examples/eval-configs.toml")
    y = tmp_path / "configs.yaml"
    y.write_text("configs:\n  - name: x\n  - name: x\n    rounds: 2\n")
    with pytest.raises(EvalConfigError, match=re.escape(f"{y}: config 'x': field 'name': 'x' names two "
                                                        "configurations — give each configuration its own name")):
        load_configs(y, PERSONA_IDS)


def test_panel_rounds_setting_is_checked(tp_home, tmp_path):
    (tmp_path / "toolpanel.toml").write_text("[panel]\nrounds = 3\n")
    with pytest.raises(ConfigError, match=re.escape("[panel] rounds: Input should be less than or equal to 2")):
        load_settings(api_key="k")


def test_cli_eval_configs_reports_multipliers_and_stores_eval_rows_only(tp_home, provider_env, tmp_path):
    project_toml(tmp_path)  # the fixture panel in the `toolpanel` subprocesses (cwd tmp_path)
    provider_env.script("herd")
    g = tmp_path / "gold"
    g.mkdir()
    for slug, verdict in (("alpha-eval", "ship"), ("beta-eval", "skip")):
        (g / f"{slug}.yaml").write_text(f"card:\n  name: {slug.title()}\n  slug: {slug}\n  description: {slug} does "
                                        f"one thing for developers and does it well.\nverdict: {verdict}\nwhy: test\n")
    configs = tmp_path / "configs.toml"
    configs.write_text('[[configs]]\nname = "two rounds"\nrounds = 2\n')
    r = cli("eval", "--configs", str(configs), str(g), "--no-shuffle", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    base, two = report["configs"]
    assert (base["name"], base["added"], two["name"]) == ("baseline", True, "two rounds")  # the file had none
    assert two["multipliers"]["calls"] == 2.0 and two["herding"] is not None
    db = tp_home / "warehouse.duckdb"
    assert rows(db, "SELECT round, count(*) FROM eval_takes WHERE eval_run_id = ? GROUP BY round ORDER BY round",
                [two["eval_run_id"]]) == [(1, 10), (2, 10)]
    assert rows(db, "SELECT count(*) FROM takes")[0][0] == 0  # production untouched
    text = cli("eval", "--configs", str(configs), str(g), "--no-shuffle")
    assert text.returncode == 0 and "baseline (baseline)" in text.stdout and "2.00×" in text.stdout
    configs.write_text('[[configs]]\nname = "x"\nrounds = 3\n')
    bad = cli("eval", "--configs", str(configs), str(g))
    assert bad.returncode == 2
    assert bad.stderr.strip() == (f"error: {configs}: config 'x': field 'rounds': 3 is not allowed — write rounds = 1 "
                                  "(independent takes) or rounds = 2 (a second round after reading the others)")
