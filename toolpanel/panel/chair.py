"""The panel summary (issue 27; docs/panel.md): after a verdict is computed, one call by the chair model.

The chair sees the verdict's takes (ok and abstained; failed takes say nothing) anonymised as Reviewer A, B, …
in an order shuffled by a seed of the run id (reproducible), datamarked between a per-request marker, with the
card (prompts/chair.j2). Its reply is checked before it is kept: every point cites letters that map back to
a take in this verdict with the stance the point claims (ship, skip or abstained); quotes come only from the
cited takes or the card; the text is screened as takes are (screening rules that hold, vendor echoes). A reply
that fails any check, a call that fails, or a budget that refuses it gives a `failed` record with the reason,
stored with the verdict like an `ok` one: the verdict never waits for its summary.
The call goes through the one LLM seam (`LLM.complete`), the panel's [budget] (estimate, admit, settle) and
its cap on calls in flight; its cost is the run's (ReviewResult.cost, the `spend` view).
"""

from __future__ import annotations

import random
import re
import string

from pydantic import ValidationError

from scoring.injection import ECHO_PHRASES
from toolpanel.models import Reviewer, ReviewRequest, Take, Tool, Verdict
from toolpanel.summaries import Cite, Disagreement, PanelSummary, SummaryPoint, SummaryRecord
from toolpanel.panel import prompts
from toolpanel.panel.patterns import unsupported_quotes
from toolpanel.panel.sidecall import SideCall, side_call
from toolpanel.panel.take import COMPACT, InvalidOutput, extract_json
from toolpanel.screening.rules import screen_text
from toolpanel.text import short

NAME = "panel_summary"  # the reply's JSON schema name (json_schema mode)
_CITE = {"type": "object", "additionalProperties": False, "required": ["reviewer", "stance"],
         "properties": {"reviewer": {"type": "string"}, "stance": {"type": "string", "enum": ["ship", "skip", "abstained"]}}}
_POINT = {"type": "object", "additionalProperties": False, "required": ["text", "reviewers", "quotes"],
          "properties": {"text": {"type": "string"}, "reviewers": {"type": "array", "items": _CITE},
                         "quotes": {"type": "array", "items": {"type": "string"}}}}
SCHEMA = {"type": "object", "additionalProperties": False,
          "required": ["agreements", "disagreements", "blind_spots", "answer"],
          "properties": {"agreements": {"type": "array", "items": _POINT},
                         "disagreements": {"type": "array", "items": {
                             "type": "object", "additionalProperties": False, "required": ["about", "sides"],
                             "properties": {"about": {"type": "string"}, "sides": {"type": "array", "items": _POINT}}}},
                         "blind_spots": {"type": "array", "items": {"type": "string"}},
                         "answer": _POINT}}
_MENTION = re.compile(r"\b[Rr]eviewers? ([A-Z])\b")


class Rejected(ValueError):
    """Internal signal: the chair's reply failed a check (the summary is stored as failed with this reason)."""


def chair_model(settings, request: ReviewRequest | None = None) -> str:
    """`[panel] chair_model`, else the run's model override (`--model`), else the provider's model."""
    return settings.panel.chair_model or (request and request.model_override) or settings.model


def wanted(settings, profile: str) -> bool:
    """`[panel] summary`; the bundled model's compact profile writes none unless a chair_model is named."""
    return settings.panel.summary and (profile != COMPACT or bool(settings.panel.chair_model))


def stance(take: Take) -> str:
    return take.verdict if take.status == "ok" else "abstained"


def letters_for(takes: list[Take], run_id: str) -> dict[str, Take]:
    """Letter -> take: the takes with something to say (ok, abstained), shuffled by a seed of the run id."""
    shown = sorted((t for t in takes if t.status in ("ok", "abstained")), key=lambda t: (t.persona_id, t.take_id))
    random.Random(f"chair:{run_id}").shuffle(shown)
    return dict(zip(string.ascii_uppercase, shown))


def messages_for(settings, tool: Tool, letters: dict[str, Take]) -> list[dict]:
    reviewers = [{"letter": k, "status": t.status, "verdict": t.verdict, "score": t.score, "paragraph": t.paragraph,
                  "evidence": list(t.evidence)} for k, t in letters.items()]
    return prompts.chair_messages(settings.prompts_dir, tool, reviewers)


async def summarise(panel: Reviewer, tool: Tool, verdict: Verdict, takes: list[Take], request: ReviewRequest,
                    run_id: str) -> SummaryRecord | None:
    """The verdict's summary record (ok or failed); None when there is none to write ([panel] summary off,
    no quorum, or no take with anything to say)."""
    settings = panel.settings
    counted = set(verdict.take_ids)
    letters = letters_for([t for t in takes if t.take_id in counted], run_id)
    if not wanted(settings, panel.profile) or not verdict.quorum_met or not letters:
        return None
    model = chair_model(settings, request)
    ids = {k: t.persona_id for k, t in letters.items()}
    names = {p.id: p.name for p in panel.personas}
    rules = settings.screening.rules if settings.screening.enabled else None

    def read(raw: str | None, finish: str | None) -> PanelSummary:
        if finish == "length":
            raise Rejected(f"the reply was cut off at the token limit (max_tokens {settings.max_tokens})")
        return check(parse(raw), letters, tool.card_text(), names, rules)

    got = await side_call(panel, request, messages_for(settings, tool, letters), model, NAME, SCHEMA, read,
                          {Rejected: "rejected"})
    return record(panel, tool.slug, model, ids, got)


def record(panel: Reviewer, slug: str, model: str, letters: dict[str, str], got: SideCall,
           what: str = "panel summary") -> SummaryRecord:
    """A side call's outcome as the record stored with its verdict (or pair): ok, or failed and why."""
    error = f"not sent: the budget is reached ({got.stopped})" if got.stopped else got.error
    if error:
        panel.llm.notes.append(f"{what}: {slug}: {model}: {error}; the verdict stands without one")
    return SummaryRecord(status="failed" if error else "ok", summary=got.value, error=error, model=model,
                         letters=letters, raw=got.raw, tokens_in=got.tokens_in, tokens_out=got.tokens_out,
                         cost_usd=got.cost_usd)


def parse(raw: str | None) -> PanelSummary:
    """The reply as a PanelSummary (letters still), or Rejected saying why it is not one."""
    try:
        data = extract_json(raw or "")
    except InvalidOutput as exc:
        raise Rejected(str(exc)) from None
    try:
        return PanelSummary.model_validate(data)
    except ValidationError as exc:
        where = "; ".join(f"{'.'.join(str(x) for x in e['loc']) or 'summary'}: {e['msg']}" for e in exc.errors()[:3])
        raise Rejected(f"the reply is not a panel summary ({where})") from None


def check(s: PanelSummary, letters: dict[str, Take], card: str, names: dict[str, str],
          rules=None) -> PanelSummary:
    """The summary with letters mapped to persona ids, once every check passes (Rejected names the first that
    fails): cited letters have a take here, with the stance claimed; quotes are in the cited takes or the
    card; no text repeats vendor wording or holds a screening rule that holds (`rules`: the rules file)."""

    def text(value: str, where: str) -> str:
        value = prompts.unmark(value)
        if not value:
            raise Rejected(f"{where} is empty")
        for letter in _MENTION.findall(value):
            if letter not in letters:
                raise Rejected(f"{where} names reviewer {letter}, who has no take in this verdict")
        return _MENTION.sub(lambda m: names.get(letters[m.group(1)].persona_id, letters[m.group(1)].persona_id),
                            value)

    def point(p: SummaryPoint, where: str) -> SummaryPoint:
        cites = []
        for c in p.reviewers:
            letter = c.reviewer.strip().removeprefix("Reviewer ").strip().upper()
            take = letters.get(letter)
            if take is None:
                raise Rejected(f"{where} cites reviewer {c.reviewer!r}, who has no take in this verdict")
            if stance(take) != c.stance:
                raise Rejected(f"{where} says reviewer {letter} ({take.persona_id}) is {c.stance}, but the take is "
                               f"{stance(take)}")
            cites.append(Cite(reviewer=take.persona_id, stance=c.stance))
        quotes = [prompts.unmark(q) for q in p.quotes]
        sources = "\n".join([card] + [f"{t.paragraph or ''}\n" + "\n".join(t.evidence)
                                      for t in letters.values() if t.persona_id in {c.reviewer for c in cites}])
        bad = unsupported_quotes(quotes, sources)
        if bad:
            raise Rejected(f"{where} quotes text that is in neither the cited takes nor the card: {short(bad[0], 80)!r}")
        return SummaryPoint(text=text(p.text, where), reviewers=cites, quotes=quotes)

    out = PanelSummary(
        agreements=[point(p, f"agreement {i}") for i, p in enumerate(s.agreements, 1)],
        disagreements=[Disagreement(about=text(d.about, f"disagreement {i}"),
                                    sides=[point(p, f"disagreement {i}, side {j}") for j, p in enumerate(d.sides, 1)])
                       for i, d in enumerate(s.disagreements, 1)],
        blind_spots=[text(b, f"blind spot {i}") for i, b in enumerate(s.blind_spots, 1)],
        answer=point(s.answer, "the answer"))
    screen(out, rules)
    return out


def texts(s: PanelSummary) -> list[str]:
    """Every text of a summary, quotes included, in reading order."""
    return ([t for p in s.agreements for t in [p.text, *p.quotes]]
            + [t for d in s.disagreements for t in [d.about, *(x for p in d.sides for x in [p.text, *p.quotes])]]
            + list(s.blind_spots) + [s.answer.text, *s.answer.quotes])


def screen(s: PanelSummary, rules=None) -> None:
    """Screened as takes are: vendor wording a take must not repeat (scoring.injection.ECHO_PHRASES), and, with
    `rules`, the screening rules that hold (severity hold). Meaning rules only warn: they flag ordinary advice
    to readers ("ship with it if you…"), which is what an answer is."""
    for value in texts(s):
        low = value.lower()
        echo = next((e for e in ECHO_PHRASES if e in low), None)
        if echo:
            raise Rejected(f"the summary repeats vendor wording: {echo!r}")
        held = [f for f in (screen_text("panel_summary", value, rules) if rules else []) if f.severity == "hold"]
        if held:
            raise Rejected(f"screening rule {held[0].rule} holds: {short(held[0].span, 80)!r}")
