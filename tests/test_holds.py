"""Holds: the pure rules, the decision written with the verdict, the published view, approve/reject,
and the migration that keeps every pre-existing verdict published."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from scoring import holdrules as holds
from tests.fake_model import take
from tests.fake_openai import FakeOpenAI
from tests.helpers import SEED_A, rows, write_card
from tests.test_panel import review
from toolpanel.sections import HoldSettings
from toolpanel.models import Take, Verdict
from warehouse.store import Warehouse
from warehouse.migrations import MIGRATIONS
from warehouse.migrations import migrate

SPLIT = {"builder": (85, "ship"), "skeptic": (20, "skip"), "futurist": (80, "ship"), "founder": (30, "skip"),
         "creator": (75, "ship")}


def _take(pid: str, score: int | None, verdict: str | None, status: str = "ok", flags=()) -> Take:
    return Take(take_id=f"tk_{pid}", tool_slug="t", snapshot_hash="s", persona_id=pid, persona_version="v",
                model="m", prompt_hash="p", status=status, score=score, verdict=verdict, flags=list(flags),
                error_class="RateLimitError" if status == "failed" else None, created_at=dt.datetime(2026, 1, 1))


def _verdict(ships: int, skips: int, verdict: str = "ship", split: bool = False, spread: int = 10) -> Verdict:
    return Verdict(tool_slug="t", ship_count=ships, skip_count=skips, abstain_count=0, failed_count=0,
                   ship_pct=round(100 * ships / (ships + skips), 1), verdict=verdict, mean_score=70.0,
                   median_score=70.0, spread=spread, split_panel=split, quorum_met=True, take_ids=[])


def test_each_rule_gives_a_readable_reason():
    s = HoldSettings()
    takes = [_take("builder", 80, "ship"), _take("skeptic", None, None, "failed"),
             _take("futurist", 30, "ship", flags=["verdict_contradicts_score"])]
    assert holds.hold_reasons(_verdict(3, 2, split=True, spread=65), takes, None, [], s) == [
        "split panel (3 ship / 2 skip, scores spread 65 points)",
        "1 failed take: skeptic (RateLimitError)",
        "futurist's verdict contradicts its score (30/100 · ship)"]
    # ship <-> skip is always a swing; a big move in ship % is one too; a small move is not
    assert holds.hold_reasons(_verdict(1, 3, "skip"), [], _verdict(3, 1), [], s) == ["verdict flipped ship 75% → skip 25%"]
    assert holds.hold_reasons(_verdict(3, 2), [], _verdict(5, 0), [], s) == [
        "panel ship % swung 40 points (100% → 60%, limit 40)"]
    assert holds.hold_reasons(_verdict(4, 1), [], _verdict(5, 0), [], s) == []


def test_settings_switch_rules_and_hold_all_and_new_tool():
    split = _verdict(3, 2, split=True)
    assert holds.hold_reasons(split, [], None, [], HoldSettings(split=False)) == []
    assert holds.hold_reasons(_verdict(5, 0), [], None, [], HoldSettings(new_tool=True)) == [
        "new tool: no verdict of it has been published yet"]
    assert holds.hold_reasons(_verdict(5, 0), [], None, [], HoldSettings(hold_all=True)) == [
        "every verdict waits for an editor ([hold] hold_all = true)"]
    # swing_pct = false turns the swing rule off, flips included (the red-team run measures injection holds alone)
    assert holds.hold_reasons(_verdict(1, 3, "skip"), [], _verdict(3, 1), [], HoldSettings(swing_pct=False)) == []
    assert holds.hold_reasons(_verdict(1, 3, "skip"), [], _verdict(3, 1), [], HoldSettings(swing_pct=0)) == [
        "verdict flipped ship 75% → skip 25%"]


def test_a_new_rule_is_one_registered_function_switched_from_the_hold_section(monkeypatch, tmp_path):
    monkeypatch.setattr(holds, "RULES", dict(holds.rules()))
    monkeypatch.setattr(holds, "_ORDER", dict(holds._ORDER))

    @holds.register("pricing_changed", order=5)
    def _pricing(verdict, takes, published, findings, settings):
        return [f"pricing changed in {f.field}" for f in findings if f.rule == "pricing"]

    from toolpanel.config import load_settings
    from toolpanel.errors import ConfigError
    from toolpanel.models import Finding
    found = [Finding(field="pricing", span="$20/month", rule="pricing", severity="hold")]
    # first, by its order, before the split panel's reason
    reasons = holds.hold_reasons(_verdict(3, 2, split=True), [], None, found, HoldSettings())
    assert reasons[:2] == ["pricing changed in pricing", "split panel (3 ship / 2 skip, scores spread 10 points)"]
    toml = tmp_path / "toolpanel.toml"
    toml.write_text("[hold]\npricing_changed = false\n")
    monkeypatch.chdir(tmp_path)
    s = load_settings()
    assert "pricing changed in pricing" not in holds.hold_reasons(_verdict(5, 0), [], None, found, s.hold)
    toml.write_text("[hold]\npricing_chanegd = false\n")
    with pytest.raises(ConfigError, match=r"toolpanel.toml: \[hold\] pricing_chanegd: no such hold rule — the rules "
                                          r"are pricing_changed, split, .* fix the name or remove the key"):
        load_settings()


def script_split(fake, tool: str) -> None:
    """Every request about `tool` gets the persona's SPLIT take: scripted on the HTTP fake (CLI, Prefect and
    browser tests use it), or a function model at the seam for an in-process FakeModel."""
    if isinstance(fake, FakeOpenAI):
        for pid, (score, verdict) in SPLIT.items():
            fake.script("valid", persona=pid, tool=tool, score=score, verdict=verdict,
                        paragraph=f"The {pid} take on {tool}, long enough to count as a real paragraph.")
        return
    default = fake.reply
    fake.reply = lambda req: take(*SPLIT[req.persona], paragraph=f"The {req.persona} take on {tool}, long enough "
                                  "to count as a real paragraph.") if req.tool == tool else default


def test_split_verdict_is_held_in_the_same_transaction_and_not_published(fake_model, tmp_path):
    card = write_card(tmp_path / "cards", "split-tool")
    script_split(fake_model, "split-tool")
    settings, [res] = review([card])
    assert res.held == ["split panel (3 ship / 2 skip, scores spread 65 points)"]
    db = settings.warehouse_path
    [(decision, reasons, editor)] = rows(db, "SELECT decision, reasons, editor FROM decisions")
    assert (decision, reasons, editor) == ("held", ["split panel (3 ship / 2 skip, scores spread 65 points)"], None)
    assert rows(db, "SELECT count(*) FROM published_verdicts")[0][0] == 0
    assert [r[0] for r in rows(db, "SELECT slug FROM held_verdicts")] == ["split-tool"]
    # analysts get both views: everything the panel said, and what readers see
    snap = settings.snapshot_path
    assert rows(snap, "SELECT count(*) FROM latest_verdicts")[0][0] == 1
    assert rows(snap, "SELECT count(*) FROM published_verdicts")[0][0] == 0

    store = Warehouse(db)
    done = store.decide("split-tool", "approved", editor="Ada", note="split is fair: two lenses disagree")
    assert done["decision"] == "approved" and done["superseded"] == []
    assert rows(db, "SELECT slug, verdict, decision, editor FROM published_verdicts") == [
        ("split-tool", "ship", "approved", "Ada")]
    assert store.held() == []
    assert store.decide("split-tool", "approved", editor="Ada") is None  # nothing left to approve


def test_approving_takes_the_newest_and_supersedes_older_held(fake_model, tmp_path):
    card = write_card(tmp_path / "cards", "split-tool")
    script_split(fake_model, "split-tool")
    settings, _ = review([card])
    review([card], force=True, reason="again")
    store = Warehouse(settings.warehouse_path)
    held = store.held()
    assert len(held) == 2
    newest = max(held, key=lambda r: (r["created_at"], r["verdict_id"]))["verdict_id"]
    done = store.decide("split-tool", "rejected", editor="Ada", note="no")
    assert done["verdict_id"] == newest and len(done["superseded"]) == 1
    assert store.held() == [] and store.published_verdict("split-tool") is None
    assert sorted(r[0] for r in rows(settings.warehouse_path, "SELECT decision FROM verdict_status")) == [
        "rejected", "superseded"]


def test_an_unremarkable_verdict_is_auto_published(fake_model):
    settings, [res] = review([SEED_A])
    assert res.held == []
    assert rows(settings.warehouse_path, "SELECT slug, decision FROM published_verdicts") == [("smolvlm2-turbo", "auto")]


def test_a_flip_holds_the_rereview_and_keeps_the_published_verdict(fake_model, tmp_path):
    card = write_card(tmp_path / "cards", "flip-tool")
    settings, [first] = review([card])
    assert first.verdict.verdict == "ship" and first.held == []
    fake_model.reply = take(20, "skip", paragraph="Now a skip: the tool broke its main promise and the docs are gone.")
    _, [second] = review([card], force=True, reason="vendor changed pricing")
    assert second.held and second.held[0].startswith("verdict flipped ship 100% → skip 0%")
    store = Warehouse(settings.warehouse_path)
    assert store.published_verdict("flip-tool")["verdict"] == "ship"
    assert [h["verdict"] for h in store.held()] == ["skip"]


def test_migration_publishes_every_existing_verdict(tmp_path):
    """A warehouse from before holds: its verdicts stay on the site after the upgrade."""
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)")
    for version, fn in enumerate(MIGRATIONS[:5], start=1):
        fn(con)
        con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [version, fn.__name__])
    con.execute("INSERT INTO runs VALUES ('r1', 'old-tool', 's', 'cli', NULL, NULL, false, 'p', '{}', '{}', '{}', "
                "1, 'h', TIMESTAMP '2026-01-01')")
    for vid, day, verdict in (("vd_1", 1, "skip"), ("vd_2", 2, "ship")):
        con.execute(f"INSERT INTO verdicts VALUES ('{vid}', 'r1', 'old-tool', 's', '{verdict}', 3, 1, 0, 0, 75, 70, 70, "
                    f"10, false, [], TIMESTAMP '2026-01-0{day}')")
    assert migrate(con) == [fn.__name__ for fn in MIGRATIONS[5:]]
    assert con.execute("SELECT verdict_id, verdict, decision FROM published_verdicts").fetchall() == [
        ("vd_2", "ship", "auto")]
    assert con.execute("SELECT count(*) FROM published_history").fetchone()[0] == 2
    con.close()


@pytest.mark.parametrize("toml, parts", [
    ("[hold]\nsplitt = true\n", ["toolpanel.toml", "hold", "splitt"]),
    ("[hold]\nswing_pct = 140\n", ["toolpanel.toml", "hold", "swing_pct", "less than or equal to 100"]),
    # a wrong type gets the same one message, not one per member of the number-or-false union
    ("[hold]\nswing_pct = \"abc\"\n", ["[hold] swing_pct: Input should be", "or false to turn the rule off"]),
    ("[hold]\nswing_pct = true\n", ["[hold] swing_pct: Input should be", "or false to turn the rule off"]),
])
def test_hold_settings_mistakes_name_the_key(tp_home, toml, parts):
    from toolpanel.errors import ConfigError
    from toolpanel.config import load_settings
    tp_home.mkdir(parents=True, exist_ok=True)
    (tp_home / "toolpanel.toml").write_text(toml)
    with pytest.raises(ConfigError) as exc:
        load_settings()
    assert all(p in str(exc.value) for p in parts), str(exc.value)
    assert ".float" not in str(exc.value) and ".bool" not in str(exc.value)
    assert exc.value.code == 2
