"""Issue 27: a comparison page's own answer to "Which one should you ship with?" (toolpanel/panel/pairs.py,
toolpanel/publish/answers.py).

After a review run, the chair answers each of the site's pairs whose two published verdicts have no answer yet,
from both panels' takes; the answer is checked (cited reviewers and stances, quotes, its pick against the
verdicts' pick) and shown on the comparison page. Scripted at the one LLM seam (`fake_model.enqueue("pair", ...)`;
unscripted, an honest chair answers: tests/fake_openai.py `FakeOpenAI.pair_answer`) or on the fake HTTP server."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.browser import browser_page, check_screenshot, chromium_missing
from tests.fake_model import take
from tests.fake_openai import PAIR_TAKE_RE, FakeOpenAI
from tests.helpers import SEED_A, SEED_B, cli, project_toml, rows, write_card
from tests.test_publish import Page
from toolpanel.config import load_settings
from toolpanel.ingest.cards import load_cards
from toolpanel.models import ReviewRequest
from toolpanel.panel.batch import open_panel, run_review
from toolpanel.panel.personas import load_personas
from toolpanel.publish.answers import answer_pairs
from toolpanel.publish.site import publish_site

PAIR = "compare/smolvlm2-turbo-vs-openrouter-model-fusion.html"
PAIRS_TOML = '[publish]\npairs = [["smolvlm2-turbo", "openrouter-model-fusion"]]\n'
SMOL, FUSION = "smolvlm2-turbo", "openrouter-model-fusion"


def review_pairs(paths, **kw):
    """A review run as `toolpanel review` makes it: the reviews, then the comparisons' answers."""
    settings = load_settings(timeout=2.0, max_retries=1, concurrency=8)
    tools, errors = load_cards(paths)
    assert not errors
    batch = run_review(settings, load_personas(settings.personas_dir), tools, after=answer_pairs, **kw)
    return settings, batch


def seeded(fake_model, tp_home, toml: str = PAIRS_TOML):
    """SmolVLM2 all ship (80), Fusion 4 ship / 1 skip (no split: both published); the rule picks SmolVLM2."""
    project_toml(tp_home, toml)
    fake_model.reply = lambda req: take(80, "ship") if req.tool == SMOL else (
        take(45, "skip") if req.persona == "skeptic" else take(75, "ship"))
    return review_pairs([SEED_A, SEED_B])


def page(settings, rel: str = PAIR) -> str:
    publish_site(settings)
    return Page((settings.site_dir / rel).read_text()).text


def test_an_honest_answer_is_stored_for_the_two_published_verdicts_and_shown_on_the_comparison(fake_model, tp_home):
    settings, batch = seeded(fake_model, tp_home)
    [req] = fake_model.of("pair")
    shown = PAIR_TAKE_RE.findall(req.prompt)
    assert len(shown) == 10 and {side for _, side, _ in shown} == {"first", "second"}
    assert "the pick is: first." in req.prompt  # the verdicts' own pick, told to the chair
    [rec] = batch.pair_answers
    assert rec.status == "ok" and rec.error is None and rec.picked == SMOL and rec.slugs == (SMOL, FUSION)
    db = settings.warehouse_path
    (va, vb, status, pick, answer, letters), = rows(
        db, "SELECT verdict_a, verdict_b, status, pick_slug, answer, letters FROM pair_answers")
    published = dict(rows(db, "SELECT slug, verdict_id FROM published_verdicts"))
    assert (va, vb) == (published[SMOL], published[FUSION]) and status == "ok" and pick == SMOL
    assert sorted(json.loads(letters)) == list("ABCDEFGHIJ")
    cites = json.loads(answer)["answer"]["reviewers"]
    assert cites and all(c["tool"] == SMOL and c["stance"] == "ship" for c in cites)
    assert rows(db, "SELECT count(*) FROM spend WHERE kind = 'pair'") == [(1,)]
    text = page(settings)
    assert "Ship with SmolVLM2 Turbo" in text
    assert "The panel picks first: its reviewers rate it higher. —" in text and "Builder on SmolVLM2 Turbo (ship)" in text
    assert "When to choose the other: Choose the other if its strengths fit your task." in text
    assert "on OpenRouter Model Fusion (ship)" in text and "Reviewer A" not in text
    assert text.index("The panel's answer, written by its chair") < text.index("What each panel says")


@pytest.mark.parametrize("reply, why", [
    ({"pick": "second", "answer": {"text": "Fusion.", "reviewers": [{"reviewer": "A", "stance": "ship"}],
                                   "quotes": []}, "instead": None},
     "rejected: the answer picks second, but the panel verdicts pick first"),
    ({"pick": "first", "answer": {"text": "Smol.", "reviewers": [{"reviewer": "Q", "stance": "ship"}], "quotes": []},
      "instead": None}, "rejected: the answer cites reviewer 'Q', who has no take in this verdict"),
    ({"pick": "first", "answer": {"text": "Smol, as Reviewer Z says.", "reviewers": [], "quotes": []},
      "instead": None}, "rejected: the reply is not a comparison answer (answer.reviewers: List should have at least 1 item"),
])
def test_a_dishonest_answer_is_stored_as_failed_and_the_page_keeps_the_verdicts_answer(fake_model, tp_home, reply, why):
    fake_model.enqueue("pair", reply)
    settings, batch = seeded(fake_model, tp_home)
    [rec] = batch.pair_answers
    assert rec.status == "failed" and rec.error.startswith(why)
    assert rows(settings.warehouse_path, "SELECT status, pick_slug FROM pair_answers") == [("failed", None)]
    text = page(settings)
    assert "Ship with SmolVLM2 Turbo" in text and "What each panel says" in text
    assert "The panel's answer" not in text and reply["answer"]["text"] not in text


def test_an_answer_that_picks_a_tool_must_cite_one_of_its_reviewers(fake_model, tp_home):
    def other_side(req):
        theirs = [(k, s) for k, side, s in PAIR_TAKE_RE.findall(req.prompt) if side == "second"]
        return {"pick": "first", "answer": {"text": "Smol.", "reviewers": [{"reviewer": k, "stance": s}
                                                                            for k, s in theirs[:1]], "quotes": []},
                "instead": None}
    fake_model.enqueue("pair", other_side)
    _, batch = seeded(fake_model, tp_home)
    assert batch.pair_answers[0].error == "rejected: the answer picks the first tool but cites none of its reviewers"


def test_a_comparison_answer_gets_the_summarys_whole_reply_checks_too(fake_model, tp_home):
    """A false claim about the whole panel (Fusion's Skeptic says skip) is refused as in a panel summary."""
    def unanimous(req):
        ours = [(k, s) for k, side, s in PAIR_TAKE_RE.findall(req.prompt) if side == "first"]
        return {"pick": "first", "answer": {"text": "Every reviewer says ship.", "quotes": [],
                                            "reviewers": [{"reviewer": k, "stance": s} for k, s in ours[:1]]},
                "instead": None}
    fake_model.enqueue("pair", unanimous)
    _, batch = seeded(fake_model, tp_home)
    assert batch.pair_answers[0].error.startswith("rejected: the summary claims of the whole panel what its takes "
                                                  "do not say")


def test_a_pair_is_asked_once_per_pair_of_verdicts_and_again_when_one_changes(fake_model, tp_home):
    settings, _ = seeded(fake_model, tp_home)
    fake_model.requests.clear()
    assert asyncio.run(answer_again(settings)) == [] and fake_model.of("pair") == []  # answered already
    fake_model.reply = take(70, "ship")  # a re-review of SmolVLM2: a new published verdict, a new pair of verdicts
    review_pairs([SEED_A], force=True)
    db = settings.warehouse_path
    published = dict(rows(db, "SELECT slug, verdict_id FROM published_verdicts"))
    newest = rows(db, "SELECT verdict_a, verdict_b, pick_slug FROM pair_answers ORDER BY created_at DESC LIMIT 1")
    assert len(fake_model.of("pair")) == 1 and newest == [(published[SMOL], published[FUSION], SMOL)]
    assert rows(db, "SELECT count(*) FROM pair_answers") == [(2,)]


async def answer_again(settings):
    """The comparisons' answers of a run that reviewed nothing new."""
    async with open_panel(settings, load_personas(settings.personas_dir)) as panel:
        return await answer_pairs(panel, ReviewRequest(trigger="cli"), [])


def test_pair_answers_caps_the_calls_a_run_makes_and_the_runs_tools_go_first(fake_model, tp_home, tmp_path):
    cards = tmp_path / "cards"
    for slug in ("alpha-tool", "beta-tool", "gamma-tool"):
        write_card(cards, slug, category="Developer Tools")
    project_toml(tp_home, "[panel]\npair_answers = 1\n")
    fake_model.reply = take(75, "ship")
    settings, _ = review_pairs(sorted(cards.glob("*.md"))[:2])  # alpha, beta: one pair
    fake_model.requests.clear()
    _, batch = review_pairs([cards / "gamma-tool.md"])  # three pairs now; only one answered, gamma's first
    [rec] = batch.pair_answers
    assert "gamma-tool" in rec.slugs and len(fake_model.of("pair")) == 1


def test_no_pair_answers_with_the_summary_off_or_a_zero_cap(fake_model, tp_home):
    project_toml(tp_home, PAIRS_TOML + "\n[panel]\nsummary = false\n")
    fake_model.reply = take(75, "ship")
    _, batch = review_pairs([SEED_A, SEED_B])
    assert batch.pair_answers == [] and fake_model.of("pair") == [] and fake_model.of("chair") == []


def test_toolpanel_review_and_compare_say_the_answer(tp_home, provider_env):
    project_toml(tp_home, PAIRS_TOML)
    provider_env.script("valid", tool=SMOL, score=85, verdict="ship")  # both all ship; SmolVLM2 on mean score
    provider_env.script("valid", tool=FUSION, score=75, verdict="ship")
    done = cli("review", str(SEED_A), str(SEED_B))
    assert done.returncode == 0, done.stderr
    assert "comparison answers: 1 written, 0 failed" in done.stdout
    shown = cli("compare", SMOL, FUSION)
    out = " ".join(shown.stdout.split())
    assert shown.returncode == 0, shown.stderr
    assert "The panel's answer: The panel picks" in out and "on SmolVLM2 Turbo (ship)" in out
    data = json.loads(cli("compare", SMOL, FUSION, "--json").stdout)
    assert data["answer"]["pick"] == "first" and data["comparison"]["pick_slug"] == SMOL
    assert {c["tool"] for c in data["answer"]["answer"]["reviewers"]} == {SMOL}


def test_a_reader_sees_the_panels_answer_on_the_comparison_page_in_chromium(fake_model, tp_home, tmp_path):
    """The published comparison page opened from file:// in headless system Chromium (CI included: never skipped)."""
    from playwright.sync_api import expect

    if reason := chromium_missing():
        pytest.fail(reason)
    settings, batch = seeded(fake_model, tp_home)
    publish_site(settings)
    answer = batch.pair_answers[0].answer.answer
    errors: list[str] = []
    with browser_page() as tab:
        tab.on("pageerror", lambda e: errors.append(str(e)))
        tab.goto((settings.site_dir / PAIR).as_uri())
        pick = tab.locator("section.pick")
        expect(pick.get_by_role("heading", name="Which one should you ship with?")).to_be_visible()
        expect(pick.locator(".answer")).to_have_text("Ship with SmolVLM2 Turbo.")
        said = pick.locator(".pair-answer .summary-answer")
        expect(said).to_be_visible()
        expect(said).to_contain_text(answer.text)
        expect(said.locator(".cites")).to_contain_text("Builder on SmolVLM2 Turbo (ship)")
        pick.scroll_into_view_if_needed()
        png = tmp_path / "compare-pair-answer.png"
        tab.screenshot(path=str(png))
        check_screenshot(png)
    assert errors == []


def test_the_fake_chairs_honest_answer_passes_the_checks_it_is_meant_to():
    """The scripted honest chair is the control the rejections are measured against: it must pass."""
    prompt = ("Reviewer A, on the first tool: ship, score 80\nReviewer B, on the second tool: skip, score 30\n"
              "the pick is: first.")
    reply = FakeOpenAI.pair_answer(prompt)
    assert reply["pick"] == "first" and reply["answer"]["reviewers"] == [{"reviewer": "A", "stance": "ship"}]
    assert reply["instead"] is None
