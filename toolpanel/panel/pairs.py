"""A comparison page's answer to "Which one should you ship with?" (issue 27; docs/panel.md).

One chair call per pair of published verdicts, reading both panels' takes (letters A, B, … across the two, in
an order shuffled by a seed of the two verdict ids) and both cards. The reply is checked as a panel summary is
(chair.Grounds and chair.vet: cited letters have a take with the stance claimed, quotes are in the cited takes or
a card, no false panel-wide claim or copied card text, texts are screened) and further: its pick is the verdicts' own pick (scoring.rules.compare, which the chair is
told), so the page never contradicts its decision table; an answer that picks a tool cites a reviewer of it.
Which pairs get one, and when, is publish/answers.py; publishing itself never calls a model.
May import: toolpanel (models, summaries, text, panel), scoring.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass

from scoring.rules import compare
from toolpanel.models import Reviewer, ReviewRequest, Take, Tool, Verdict
from toolpanel.panel import chair, prompts
from toolpanel.panel.sidecall import side_call
from toolpanel.summaries import PairAnswer, PairRecord

NAME = "pair_answer"  # the reply's JSON schema name
SCHEMA = {"type": "object", "additionalProperties": False, "required": ["pick", "answer", "instead"],
          "properties": {"pick": {"type": "string", "enum": ["first", "second", "neither", "too close"]},
                         "answer": chair.POINT, "instead": {"anyOf": [chair.POINT, {"type": "null"}]}}}
SIDES = ("first", "second")
PICKS = {"a": "first", "b": "second", "neither": "neither", "tie": "too close"}  # Comparison.pick -> the chair's


@dataclass
class Side:
    """One tool of a pair as the chair reads it: its card, its published verdict (and id), the takes behind it."""

    tool: Tool
    verdict: Verdict
    verdict_id: str
    takes: list[Take]


def letters_for(first: Side, second: Side) -> dict[str, Take]:
    """Letter -> take: both verdicts' takes with something to say, shuffled by a seed of the two verdict ids."""
    shown = sorted((t for s in (first, second) for t in s.takes
                    if t.take_id in set(s.verdict.take_ids) and t.status in ("ok", "abstained")),
                   key=lambda t: (t.tool_slug, t.persona_id, t.take_id))
    random.Random(f"pair:{first.verdict_id}:{second.verdict_id}").shuffle(shown)
    return dict(zip(string.ascii_uppercase, shown))


def rule_pick(first: Side, second: Side, persona_ids: list[str]) -> str:
    """The verdicts' own pick, in the chair's words (first, second, neither, too close)."""
    return PICKS[compare(first.verdict, second.verdict, first.takes, second.takes, persona_ids,
                         names=(first.tool.name, second.tool.name)).pick]


def check(reply: PairAnswer, grounds: chair.Grounds, pick: str, slugs: tuple[str, str], rules=None) -> PairAnswer:
    """The answer with letters mapped to persona ids and tool slugs, once every check passes (else Rejected)."""
    if reply.pick != pick:
        raise chair.Rejected(f"the answer picks {reply.pick}, but the panel verdicts pick {pick}")
    answer = grounds.point(reply.answer, "the answer")
    instead = grounds.point(reply.instead, "instead") if reply.instead else None
    if pick in SIDES:
        slug = slugs[SIDES.index(pick)]
        if not any(c.tool == slug for c in answer.reviewers):
            raise chair.Rejected(f"the answer picks the {pick} tool but cites none of its reviewers")
    out = PairAnswer(pick=pick, answer=answer, instead=instead)
    points = [p for p in (answer, instead) if p]
    chair.vet([p.text for p in points], [t for p in points for t in (p.text, *p.quotes)],
              [chair.stance(t) for t in grounds.letters.values() if t.status in ("ok", "abstained")],
              grounds.card, rules)
    return out


async def answer(panel: Reviewer, request: ReviewRequest, first: Side, second: Side) -> PairRecord:
    """The pair's answer record (ok, or failed and why); the call is budgeted like any other."""
    settings = panel.settings
    letters = letters_for(first, second)
    model = chair.chair_model(settings, request)
    slugs = (first.tool.slug, second.tool.slug)
    pick = rule_pick(first, second, [p.id for p in panel.personas])
    side_of = {first.tool.slug: "first", second.tool.slug: "second"}
    grounds = chair.Grounds(letters, f"{first.tool.card_text()}\n{second.tool.card_text()}",
                            {p.id: p.name for p in panel.personas},
                            tools={first.tool.slug: first.tool.name, second.tool.slug: second.tool.name})
    rules = settings.screening.rules if settings.screening.enabled else None

    def read(raw: str | None, finish: str | None) -> PairAnswer:
        if finish == "length":
            raise chair.Rejected(f"the reply was cut off at the token limit (max_tokens {settings.max_tokens})")
        return check(chair.parse(raw, PairAnswer), grounds, pick, slugs, rules)

    reviewers = [{"letter": k, "side": side_of[t.tool_slug], "status": t.status, "verdict": t.verdict,
                  "score": t.score, "paragraph": t.paragraph, "evidence": list(t.evidence)} for k, t in letters.items()]
    messages = prompts.chair_messages(settings.prompts_dir, [first.tool, second.tool], reviewers,
                                      prompts.PAIR_TEMPLATE, pick=pick)
    got = await side_call(panel, request, messages, model, NAME, SCHEMA, read, {chair.Rejected: "rejected"})
    return PairRecord(**chair.outcome(panel, f"pair answer: {slugs[0]} vs {slugs[1]}", model, got,
                                      "the page shows the verdicts' answer"),
                      slugs=slugs, verdicts=(first.verdict_id, second.verdict_id), answer=got.value,
                      letters={k: f"{t.tool_slug}/{t.persona_id}" for k, t in letters.items()})
