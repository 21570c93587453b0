"""toolpanel.why.changes: attribution of a verdict change, one test per class, on plain data (no warehouse)."""

from __future__ import annotations

import datetime as dt

from toolpanel.why.changes import VerdictFacts, attribute
from toolpanel.why.textdiff import word_diff
from toolpanel.why.words import summary
from toolpanel.models import Take

T0 = dt.datetime(2026, 11, 20, 9, 0)
PERSONA = {"id": "skeptic", "name": "Skeptic", "lens": "Evidence over claims.", "questions": ["Who pays?"],
           "voice": "dry", "example": "No.", "abstain_when": "never", "order": 2}
DESC = ("SmolVLM2 Turbo runs on phones. Pricing: $20/month for the hosted tier, billed annually, with a free "
        "trial. It ships with an SDK.")


def take(pid: str, status="ok", score=70, verdict="ship", tid=None, version="v1", model="m1") -> Take:
    return Take(take_id=tid or f"tk-{pid}-{score}-{status}", tool_slug="smol", snapshot_hash="s", persona_id=pid,
                persona_version=version, model=model, prompt_hash="p", status=status,
                score=score if status == "ok" else None, verdict=verdict if status == "ok" else None,
                created_at=T0)


def facts(n: int, **kw) -> VerdictFacts:
    base = dict(slug="smol", verdict_id=f"vd{n}", run_id=f"run{n}", created_at=T0 + dt.timedelta(days=n),
                verdict="ship", ship_count=2, skip_count=0, trigger="cli", snapshot_hash="s1",
                card={"name": "SmolVLM2 Turbo", "description": DESC, "pricing": "Free"}, prompt_hash="p1",
                templates={"system.j2": "a", "tool.j2": "b"}, persona_versions={"skeptic": "v1", "builder": "b1"},
                persona_contents={"v1": PERSONA}, models={"skeptic": "m1", "builder": "m1"},
                settings={"temperature": 0.4},
                takes=[take("skeptic", score=78), take("builder", score=85, tid="same-builder")])
    base.update(kw)
    return VerdictFacts(**base)


def test_word_diff_counts_and_quotes_the_lost_passage():
    d = word_diff(DESC, "SmolVLM2 Turbo runs on phones. It ships with an SDK and docs.")
    assert d.removed_words == 13 and d.added_words == 3  # "SDK." became "SDK and docs."
    assert d.removed[0].startswith("Pricing: $20/month")
    assert word_diff("a  b\nc", "a b c").removed_words == 0  # whitespace is not a change


def test_description_change_is_named_with_counts_and_the_flip():
    a = facts(1)
    b = facts(2, snapshot_hash="s2", card={**a.card, "description": "SmolVLM2 Turbo runs on phones. It ships with "
                                                                      "an SDK and docs."},
              verdict="skip", ship_count=1, skip_count=1,
              takes=[take("skeptic", score=45, verdict="skip"), take("builder", score=85, tid="same-builder")])
    c = attribute(a, b)
    assert c.description_changed and not c.personas_changed and not c.templates_changed and not c.model_changed
    assert summary(c) == ("Skeptic went ship → skip (78 → 45) after the description lost 13 words "
                           "('Pricing: $20/month for the hosted tier, …') and gained 3 ('SDK and docs.'); personas, "
                           "model and prompts unchanged.")
    builder, skeptic = c.takes  # no panel order given: by persona id
    assert skeptic.flipped and skeptic.score_delta == -33
    assert builder.same_take and not builder.flipped


def test_persona_field_change_names_persona_and_field():
    a = facts(1)
    edited = {**PERSONA, "lens": "Evidence over claims, and the bill at scale."}
    b = facts(2, persona_versions={"skeptic": "v2", "builder": "b1"}, persona_contents={"v1": PERSONA, "v2": edited},
              takes=[take("skeptic", score=60, version="v2"), take("builder", score=85, tid="same-builder")])
    c = attribute(a, b)
    assert c.personas_changed and [p.fields for p in c.personas] == [["lens"]]
    assert c.personas[0].details["lens"] == "lens lost 1 word ('claims.') and gained 6 ('claims, and the bill at scale.')"
    assert summary(c) == ("Skeptic 78 → 60 after Skeptic's persona file changed (lens); description, model and "
                           "prompts unchanged.")


def test_persona_fields_unknown_for_a_run_recorded_before_contents_were_kept():
    a = facts(1, persona_contents={}, templates=None)
    b = facts(2, persona_versions={"skeptic": "v2", "builder": "b1"}, persona_contents={"v2": PERSONA})
    c = attribute(a, b)
    assert c.personas[0].fields is None
    assert "Skeptic's persona file changed (which fields is unknown" in summary(c)


def test_templates_named_or_unknown():
    a, b = facts(1), facts(2, prompt_hash="p2", templates={"system.j2": "a2", "tool.j2": "b"})
    c = attribute(a, b)
    assert c.templates_changed and c.templates == ["system.j2"]
    assert summary(c) == ("No take moved although the prompt template system.j2 changed; description, personas "
                           "and model unchanged.")
    old = attribute(facts(1, templates=None), b)
    assert old.templates_changed and old.templates is None
    assert "the prompt templates changed (which ones is unknown" in summary(old)
    # same combined hash: unchanged is known even for an old run
    same = attribute(facts(1, templates=None), facts(2))
    assert not same.templates_changed and same.templates == []


def test_model_change_is_named():
    b = facts(2, models={"skeptic": "m2", "builder": "m2"},
              takes=[take("skeptic", score=50, verdict="skip", model="m2"), take("builder", score=80, model="m2")])
    c = attribute(facts(1), b)
    assert c.model_changed and not c.identical_inputs
    assert "after the model changed (m1 → m2); description, personas and prompts unchanged." in summary(c)
    one = attribute(facts(1), facts(2, models={"skeptic": "m2", "builder": "m1"}))
    assert "Skeptic's model changed (m1 → m2)" in summary(one)


def test_forced_rereview_of_identical_inputs_is_provider_variance():
    b = facts(2, forced=True, takes=[take("skeptic", score=52, verdict="skip", tid="new"), take("builder", score=85)])
    c = attribute(facts(1), b)
    assert c.forced_identical and c.identical_inputs
    assert summary(c) == ("Skeptic went ship → skip (78 → 52) on a forced re-review of identical inputs: "
                           "provider variance.")


def test_abstain_and_missing_takes_are_deltas():
    b = facts(2, forced=True, takes=[take("skeptic", status="abstained"), take("creator", score=70)],
              persona_versions={"skeptic": "v1", "builder": "b1", "creator": "c1"})
    c = attribute(facts(1), b, order=["builder", "skeptic", "creator"], names={"creator": "Creator"})
    assert [(d.name, d.before.status, d.after.status) for d in c.takes] == [
        ("Builder", "ok", None), ("Skeptic", "ok", "abstained"), ("Creator", None, "ok")]
    assert c.personas[0].name == "Creator" and c.personas[0].before_version is None
    s = summary(c)
    assert "Builder went ship 85 → no take" in s and "Skeptic went ship 78 → abstained" in s
    assert "Creator joined the panel" in s


def test_card_field_and_settings_changes():
    b = facts(2, snapshot_hash="s2", card={**facts(1).card, "pricing": "$20/month"}, settings={"temperature": 0.9})
    c = attribute(facts(1), b)
    assert not c.description_changed and [f.field for f in c.card_fields] == ["pricing"]
    assert "the card's pricing changed ('Free' → '$20/month')" in summary(c)
    assert "the temperature changed ('0.4' → '0.9')" in summary(c)
