"""`toolpanel eval`: figures with known expected values from a provider scripted at the LLM seam,
gold-file errors, persona model pools, and the real CLI against the fake HTTP server."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from scoring.rules import SHIP_THRESHOLD

from tests.fake_openai import default_score
from tests.helpers import PERSONA_IDS, cli, project_toml, rows, write_card
from toolpanel.sections import PersonaSettings, pick_model
from toolpanel.config import Settings, load_settings
from toolpanel.errors import ConfigError
from toolpanel.eval.run import NO_EVIDENCE, EvalOutcome, EvalReview, figures, run_eval, shuffled_order
from toolpanel.eval.gold import GoldItem, PersonaGold, load_gold
from toolpanel.panel.llm import Completion
from toolpanel.models import Take, Tool
from toolpanel.panel.personas import load_personas
from toolpanel.panel.take import TakeOutput, parse_take
from warehouse.rows import now

# --------------------------------------------------------------------------- a provider scripted at the seam

PERSONA = re.compile(r"Persona id: ([a-z0-9_-]+)")
SLUG = re.compile(r"Tool slug: ([a-z0-9-]+)")
ORDER = re.compile(r"\(persona id: ([a-z0-9_-]+)\)")


def coherent(score: int) -> tuple[int, str]:
    """A take whose verdict matches its score (the take contract fails any other)."""
    return score, "ship" if score >= SHIP_THRESHOLD else "skip"


class ScriptedLLM:
    """Stands in for `LLM` (same `take` signature). `answer(persona, slug, order, model)` returns
    "abstain" or (score, verdict); the reply goes through the real take parser."""

    def __init__(self, answer):
        self.answer = answer
        self.calls: list[tuple[str, str, tuple[str, ...], str]] = []

    async def take(self, messages, model, repair_message, may_repair=None, quotes=None) -> Completion:
        persona = PERSONA.search(messages[-1]["content"]).group(1)
        slug = SLUG.search(messages[1]["content"]).group(1)
        order = tuple(ORDER.findall(messages[0]["content"]))
        self.calls.append((persona, slug, order, model))
        a = self.answer(persona, slug, list(order), model)
        body = {"abstain": a == "abstain", "paragraph": f"The {persona} has a considered view of {slug} for this test.",
                "score": 0 if a == "abstain" else a[0], "verdict": "skip" if a == "abstain" else a[1]}
        if "evidence" in TakeOutput.model_fields:  # the take contract with quoted evidence (branch i14-take)
            body["evidence"] = [] if a == "abstain" else [slug]
        return Completion(output=parse_take(json.dumps(body)), mode="json_schema", response_model=model,
                          tokens_in=100, tokens_out=20, latency_ms=1)

    async def aclose(self) -> None:
        pass


def tool(slug: str) -> Tool:
    return Tool(name=slug.title(), slug=slug, description=f"{slug} is a tool that does one thing well.")


# Six items: four ships, two skips; gold for every persona, the Creator abstains on t5.
GOLD_SCORES = {"t0": 85, "t1": 75, "t2": 70, "t3": 90, "t4": 30, "t5": 20}
OFFSETS = {"builder": 0, "skeptic": -5, "futurist": 3, "founder": -2, "creator": 1}


def gold_items() -> list[GoldItem]:
    items = []
    for slug, base in GOLD_SCORES.items():
        v = "ship" if base >= 60 else "skip"
        ps = {pid: PersonaGold(verdict=v, score=base + off) for pid, off in OFFSETS.items()}
        if slug == "t5":
            ps["creator"] = PersonaGold(abstain=True)
        items.append(GoldItem(path=f"gold/{slug}.yaml", tool=tool(slug), verdict=v, why="test", personas=ps))
    return items


def perfect(persona, slug, order, model):
    g = {i.tool.slug: i for i in gold_items()}[slug].personas[persona]
    return "abstain" if g.abstain else (g.score, g.verdict)


def flip(ans):
    return "abstain" if ans == "abstain" else (100 - ans[0], "skip" if ans[1] == "ship" else "ship")


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path / "home", api_key="test", base_url="http://127.0.0.1:9/v1", model="fake-model-1")


@pytest.fixture
def personas(settings):
    return load_personas(settings.personas_dir)


def run(settings, personas, llm, items=None, **kw) -> dict:
    outcome = asyncio.run(run_eval(settings, personas, items or gold_items(), llm, **kw))
    return figures(outcome, [p.id for p in personas])


# --------------------------------------------------------------------------- figures with known values


def test_perfect_agreement_gives_kappa_one_and_no_flips(settings, personas, tmp_path):
    llm = ScriptedLLM(perfect)
    f = run(settings, personas, llm, repeats=2)
    assert f["panel"] == {"reviews": 12, "accuracy": 1.0, "kappa": 1.0, "incomplete": 0, "incomplete_share": 0.0}
    for pid in PERSONA_IDS:
        p = f["personas"][pid]
        assert p["verdict_agreement"] == 1.0 and p["score_mae"] == 0.0 and p["score_spearman"] == 1.0
        assert p["repeat_score_sd"] == 0.0
    assert (f["personas"]["creator"]["abstain_precision"], f["personas"]["creator"]["abstain_recall"]) == (1.0, 1.0)
    assert f["personas"]["builder"]["abstain_recall"] is None  # the editor never expects the Builder to abstain
    assert f["repeatability"]["verdict_agreement"] == 1.0
    assert f["order"] == {"items": 6, "flips": 0, "flip_rate": 0.0, "flipped": []}
    # 6 items × (2 repeats + 1 shuffled) × 5 personas, every call through the seam, none to the warehouse
    assert len(llm.calls) == 90 and f["cost"]["calls"] == 90 and f["cost"]["tokens_in"] == 9000
    assert f["cost"]["cost_usd"] is None  # no price configured: unknown, not zero
    assert not (tmp_path / "home" / "warehouse.duckdb").exists()
    # calibration: every take scored 60+ was on a gold ship, every take under 40 on a gold skip
    assert all(b["gold_ship_share"] == (1.0 if int(b["bucket"].split("-")[0]) >= 60 else 0.0) for b in f["calibration"])
    assert f["grounding"] == ({"grounded_share": None, "note": NO_EVIDENCE} if "evidence" not in Take.model_fields
                              else f["grounding"])


def test_opposite_answers_on_one_item_give_hand_computed_kappa(settings, personas):
    f = run(settings, personas, ScriptedLLM(lambda p, s, o, m: flip(perfect(p, s, o, m)) if s == "t0"
                                            else perfect(p, s, o, m)), shuffles=False)
    # gold: 4 ship / 2 skip; panel: 3 ship / 3 skip, one disagreement. p_o = 5/6,
    # p_e = (4/6)(3/6) + (2/6)(3/6) = 1/2  →  κ = (5/6 − 1/2) / (1/2) = 2/3
    assert f["panel"]["accuracy"] == pytest.approx(5 / 6, abs=1e-4)
    assert f["panel"]["kappa"] == pytest.approx(2 / 3, abs=1e-4)
    assert f["personas"]["builder"]["verdict_agreement"] == pytest.approx(5 / 6, abs=1e-4)
    assert f["order"]["items"] == 0 and f["order"]["flip_rate"] is None  # no shuffled reviews asked for


def test_order_sensitive_panel_flip_rate_is_k_of_n(settings, personas):
    def answer(p, s, order, m):
        ans = perfect(p, s, order, m)
        return flip(ans) if s in ("t1", "t4") and order[0] != "builder" else ans

    f = run(settings, personas, ScriptedLLM(answer))
    assert f["order"] == {"items": 6, "flips": 2, "flip_rate": pytest.approx(2 / 6, abs=1e-4), "flipped": ["t1", "t4"]}
    assert f["panel"]["accuracy"] == 1.0  # the panel order itself is answered correctly


def test_shuffled_order_is_a_different_stable_permutation(personas):
    a = [p.id for p in shuffled_order(personas, "t1")]
    assert sorted(a) == sorted(p.id for p in personas) and a != [p.id for p in personas]
    assert a == [p.id for p in shuffled_order(personas, "t1")]


def test_incomplete_verdict_counts_as_wrong_and_is_reported(settings, personas):
    f = run(settings, personas, ScriptedLLM(lambda p, s, o, m: "abstain" if s == "t3" else perfect(p, s, o, m)),
            shuffles=False)
    assert f["panel"]["incomplete"] == 1 and f["panel"]["accuracy"] == pytest.approx(5 / 6, abs=1e-4)


def test_effective_votes_identical_personas_is_one_and_two_blocks_known(settings, personas):
    items = gold_items()[:4]
    centred = {"t0": (-1.5, 1), "t1": (-0.5, -1), "t2": (0.5, -1), "t3": (1.5, 1)}  # two uncorrelated signals

    f = run(settings, personas, ScriptedLLM(lambda p, s, o, m: coherent(int(60 + 10 * centred[s][0]))), items=items)
    assert f["effective_votes"]["per_model"]["fake-model-1"]["n_eff"] == pytest.approx(1.0)

    def blocks(p, s, o, m):
        x = centred[s][0] if p in ("builder", "skeptic", "futurist") else centred[s][1]
        return coherent(int(70 + 10 * x))

    f = run(settings, personas, ScriptedLLM(blocks), items=items)
    assert f["effective_votes"]["per_model"]["fake-model-1"] == {
        "personas": PERSONA_IDS, "n_eff": pytest.approx(25 / 13, abs=1e-3), "of": 5}


def test_model_pools_pick_by_slug_and_variance_splits_persona_vs_model(settings, personas):
    pool = ["model-a", "model-b"]
    s = settings.model_copy(update={"personas": {pid: PersonaSettings(models=pool) for pid in PERSONA_IDS}})
    items = gold_items()
    by_model = ScriptedLLM(lambda p, slug, o, m: (80 if m == "model-a" else 40, "ship" if m == "model-a" else "skip"))
    f = run(s, personas, by_model, items=items, shuffles=False)
    expected = {slug: pick_model(pool, slug) for slug in GOLD_SCORES}
    assert {(slug, m) for _, slug, _, m in by_model.calls} == set(expected.items())
    assert len(set(expected.values())) == 2  # both models are used by this gold set
    assert f["variance"]["model_share"] == 1.0 and f["variance"]["models"] == 2
    assert set(f["effective_votes"]["per_model"]) == {"model-a", "model-b"}

    by_persona = ScriptedLLM(lambda p, slug, o, m: coherent(50 + 5 * PERSONA_IDS.index(p)))
    f = run(s, personas, by_persona, items=items, shuffles=False)
    assert f["variance"]["persona_share"] == 1.0 and f["variance"]["item_share"] == 0.0


def test_grounding_from_takes_that_carry_evidence():
    """Takes built directly with the evidence contract of branch i14-take (quotes + 'ungrounded' flag)."""

    class EvidenceTake(Take):
        evidence: list[str] = []

    def take(pid: str, quotes: list[str], flags: list[str]) -> Take:
        return EvidenceTake(take_id=f"tk-{pid}-{len(flags)}", tool_slug="t0", snapshot_hash="h", persona_id=pid,
                            persona_version="v", model="m", prompt_hash="p", status="ok", score=80, verdict="ship",
                            paragraph="x" * 50, evidence=quotes, flags=flags, created_at=now())

    from scoring.rules import verdict as score_verdict

    takes = [take("builder", ["does one thing well"], []), take("skeptic", ["fastest ever"], ["ungrounded"]),
             take("futurist", ["does one thing"], []), take("founder", ["a tool"], [])]
    item = gold_items()[0]
    outcome = EvalOutcome([EvalReview(item, 0, "canonical", PERSONA_IDS, takes, score_verdict("t0", takes))], 0.1, ["m"])
    f = figures(outcome, PERSONA_IDS)
    assert f["grounding"]["grounded_share"] == 0.75
    assert f["grounding"]["per_persona"] == {"builder": 1.0, "skeptic": 0.0, "futurist": 1.0, "founder": 1.0,
                                             "creator": None}


# --------------------------------------------------------------------------- gold files


def test_gold_errors_name_file_field_and_fix(tmp_path):
    g = tmp_path / "gold"
    g.mkdir()
    (g / "typo.yaml").write_text("card: {name: A, description: An example tool for a test.}\nverdict: ship\n"
                                 "why: fine\nbulider: {verdict: ship}\n")
    (g / "noverdict.yaml").write_text("card: {name: B, description: An example tool for a test.}\nwhy: fine\n")
    (g / "badpersona.yaml").write_text("card: {name: C, description: An example tool for a test.}\nverdict: skip\n"
                                       "why: fine\nskeptic: {verdict: ship, scroe: 40}\n")
    (g / "nocard.yaml").write_text("card: ../missing.md\nverdict: skip\nwhy: fine\n")
    (g / "badcard.yaml").write_text("card: {name: D, description: An example tool for a test., price: 3}\n"
                                    "verdict: skip\nwhy: fine\n")
    (g / "ok.yaml").write_text("card: {name: E, description: An example tool for a test.}\nverdict: skip\nwhy: fine\n"
                               "creator: abstain\n")
    items, errors = load_gold([g], PERSONA_IDS)
    assert [i.tool.slug for i in items] == ["e"] and items[0].personas["creator"].abstain
    msgs = sorted(str(e) for e in errors)
    assert msgs == sorted([
        f"{g}/typo.yaml: field 'bulider': unknown key — rename 'bulider' → 'builder' "
        "(allowed: card, verdict, why, builder, skeptic, futurist, founder, creator)",
        f"{g}/noverdict.yaml: field 'verdict': is missing — add `verdict: ship` or `verdict: skip` "
        "(the editor's panel verdict)",
        f"{g}/badpersona.yaml: field 'skeptic.scroe': unknown key — rename 'scroe' → 'score' (allowed: verdict, score)",
        f"{g}/nocard.yaml: field 'card': '../missing.md' is not a file — give a card path relative to the gold file, "
        "or the card's fields inline",
        f"{g}/badcard.yaml card: field 'card.price': unknown field — rename 'price' → 'pricing'",
    ])


def test_shipped_gold_set_loads_with_the_seed_panels():
    from tests.helpers import ROOT

    items, errors = load_gold([ROOT / "eval" / "gold"], PERSONA_IDS)
    assert errors == [] and len(items) >= 27
    seed = {i.tool.slug: i for i in items}
    a, b = seed["smolvlm2-turbo"], seed["openrouter-model-fusion"]
    assert {k: (v.verdict, v.score) for k, v in a.personas.items() if not v.abstain} == {
        "builder": ("ship", 85), "skeptic": ("ship", 78), "futurist": ("ship", 82), "founder": ("ship", 72)}
    assert a.personas["creator"].abstain and b.personas["founder"].abstain
    assert (b.personas["skeptic"].verdict, b.personas["skeptic"].score) == ("skip", 45)
    assert {i.verdict for i in items} == {"ship", "skip"}


# --------------------------------------------------------------------------- persona model pools (settings)


def test_persona_model_pool_setting(tp_home, tmp_path):
    (tmp_path / "toolpanel.toml").write_text('[provider]\nmodel = "base"\n[personas.builder]\nmodels = ["m1", "m2"]\n')
    s = load_settings(api_key="k")
    assert s.model_pool("builder") == ["m1", "m2"] and s.model_pool("skeptic") == ["base"]
    assert s.model_for("builder", "smolvlm2-turbo") == pick_model(["m1", "m2"], "smolvlm2-turbo")
    (tmp_path / "toolpanel.toml").write_text('[models]\nbuilder = "x"\n[personas.builder]\nmodels = ["m1"]\n')
    with pytest.raises(ConfigError, match=r"builder named in both \[models\] and \[personas.ID\]"):
        load_settings(api_key="k")
    (tmp_path / "toolpanel.toml").write_text('[personas.builder]\nmodels = []\n')
    with pytest.raises(ConfigError, match=r"personas.builder.models: List should have at least 1 item"):
        load_settings(api_key="k")


# --------------------------------------------------------------------------- the real CLI


def _expected_panel(slug: str) -> str:
    ships = sum(default_score(slug, p) >= 60 for p in PERSONA_IDS)
    return "ship" if ships > 5 - ships else "skip"


PROD_TABLES = ("takes", "runs", "run_takes", "verdicts", "tool_snapshots")


def test_cli_eval_stores_eval_rows_and_leaves_production_alone(tp_home, provider_env, tmp_path):
    project_toml(tmp_path)  # the fixture panel in the `toolpanel` subprocesses (cwd tmp_path)
    card = write_card(tmp_path / "cards", "prod-tool")
    assert cli("review", str(card)).returncode == 0
    db = tp_home / "warehouse.duckdb"
    before = {t: rows(db, f"SELECT count(*) FROM {t}")[0][0] for t in PROD_TABLES}
    stats_before = rows(db, "SELECT * FROM persona_stats ORDER BY persona_id")

    g = tmp_path / "gold"
    g.mkdir()
    (g / "alpha.yaml").write_text("card:\n  name: Alpha Eval\n  slug: alpha-eval\n  description: Alpha does one thing "
                                  "for developers and does it well.\nverdict: ship\nwhy: test item\n")
    (g / "beta.yaml").write_text("card:\n  name: Beta Eval\n  slug: beta-eval\n  description: Beta does one thing "
                                 "for developers and does it well.\nverdict: skip\nwhy: test item\n"
                                 "skeptic: {verdict: skip, score: 30}\n")
    r = cli("eval", str(g / "alpha.yaml"), str(g / "beta.yaml"), "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    expected = [_expected_panel("alpha-eval") == "ship", _expected_panel("beta-eval") == "skip"]
    assert report["figures"]["panel"]["accuracy"] == pytest.approx(sum(expected) / 2)
    assert report["model"] == provider_env.model_id
    rid = report["eval_run_id"]

    assert rows(db, "SELECT count(*) FROM eval_runs WHERE eval_run_id = ?", [rid])[0][0] == 1
    assert rows(db, "SELECT slug, variant, gold_verdict FROM eval_items ORDER BY slug, variant") == [
        ("alpha-eval", "canonical", "ship"), ("alpha-eval", "shuffled", "ship"),
        ("beta-eval", "canonical", "skip"), ("beta-eval", "shuffled", "skip")]
    assert rows(db, "SELECT count(*) FROM eval_takes WHERE eval_run_id = ?", [rid])[0][0] == 20
    # production untouched: same row counts, no eval tool anywhere, same persona stats
    assert {t: rows(db, f"SELECT count(*) FROM {t}")[0][0] for t in PROD_TABLES} == before
    assert rows(db, "SELECT count(*) FROM takes WHERE slug LIKE '%-eval'")[0][0] == 0
    assert rows(db, "SELECT * FROM persona_stats ORDER BY persona_id") == stats_before

    # a second eval, the list of runs, and the comparison of the two
    r2 = cli("eval", str(g), "--json", "--no-shuffle")
    rid2 = json.loads(r2.stdout)["eval_run_id"]
    listed = cli("eval", "--list")
    assert listed.returncode == 0 and rid in listed.stdout and rid2 in listed.stdout
    cmp = cli("eval", "--compare", rid, rid2)
    assert cmp.returncode == 0, cmp.stderr
    assert "panel accuracy" in cmp.stdout and "order flip rate" in cmp.stdout and "skeptic: score mae" in cmp.stdout
    missing = cli("eval", "--compare", rid, "ev-nope")
    assert missing.returncode == 2
    assert missing.stderr.strip() == "error: no eval run 'ev-nope' — see the ids with `toolpanel eval --list`"


def test_cli_eval_report_and_rejected_gold(tp_home, provider_env, tmp_path):
    project_toml(tmp_path)  # the fixture panel in the `toolpanel` subprocesses (cwd tmp_path)
    g = tmp_path / "gold"
    g.mkdir()
    (g / "ok.yaml").write_text("card: {name: Gamma Eval, description: Gamma does one thing for developers well.}\n"
                               "verdict: ship\nwhy: test item\n")
    (g / "bad.yaml").write_text("card: {name: Delta, description: Delta does one thing.}\nverdict: maybe\nwhy: x\n")
    r = cli("eval", str(g), "--repeats", "2")
    assert r.returncode == 1  # one gold file rejected; the rest was still evaluated
    assert f"rejected {g}/bad.yaml: field 'verdict': 'maybe' is not a verdict — use `verdict: ship` or " \
           "`verdict: skip`" in r.stderr
    assert f"model {provider_env.model_id} · 1 gold items" in r.stdout
    assert "Repeatability (2 repeats)" in r.stdout and "Grounding: " in r.stdout
    assert "Effective independent votes (fake-model-1)" in r.stdout
    assert provider_env.calls() == 15  # (2 repeats + 1 shuffled) × 5 personas
