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

from pydantic import BaseModel, ValidationError

from scoring.injection import ECHO_PHRASES
from toolpanel.models import _CARD_LABELS, Reviewer, ReviewRequest, Take, Tool, Verdict  # card_text's labels
from toolpanel.summaries import Cite, Disagreement, PanelSummary, SummaryPoint, SummaryRecord
from toolpanel.panel import chairtext, prompts
from toolpanel.panel.patterns import unsupported_quotes
from toolpanel.panel.sidecall import SideCall, side_call
from toolpanel.panel.take import COMPACT, InvalidOutput, extract_json
from toolpanel.screening.normalise import normalise
from toolpanel.screening.rules import screen_text
from toolpanel.text import short

NAME = "panel_summary"  # the reply's JSON schema name (json_schema mode)
CITE = {"type": "object", "additionalProperties": False, "required": ["reviewer", "stance"],
         "properties": {"reviewer": {"type": "string"}, "stance": {"type": "string", "enum": ["ship", "skip", "abstained"]}}}
POINT = {"type": "object", "additionalProperties": False, "required": ["text", "reviewers", "quotes"],
          "properties": {"text": {"type": "string"}, "reviewers": {"type": "array", "items": CITE},
                         "quotes": {"type": "array", "items": {"type": "string"}}}}
SCHEMA = {"type": "object", "additionalProperties": False,
          "required": ["agreements", "disagreements", "blind_spots", "answer"],
          "properties": {"agreements": {"type": "array", "items": POINT},
                         "disagreements": {"type": "array", "items": {
                             "type": "object", "additionalProperties": False, "required": ["about", "sides"],
                             "properties": {"about": {"type": "string"}, "sides": {"type": "array", "items": POINT}}}},
                         "blind_spots": {"type": "array", "items": {"type": "string"}},
                         "answer": POINT}}


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
    return prompts.chair_messages(settings.prompts_dir, [tool], reviewers)


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
    return SummaryRecord(**outcome(panel, f"panel summary: {tool.slug}", model, got, "the verdict stands without one"),
                         summary=got.value, letters=ids)


def outcome(panel: Reviewer, what: str, model: str, got: SideCall, otherwise: str) -> dict:
    """A chair call's record fields (status, error, usage, cost); a failure is also a note for the run's output."""
    error = f"not sent: the budget is reached ({got.stopped})" if got.stopped else got.error
    if error:
        panel.llm.notes.append(f"{what}: {model}: {error}; {otherwise}")
    return {"status": "failed" if error else "ok", "error": error, "model": model, "raw": got.raw,
            "tokens_in": got.tokens_in, "tokens_out": got.tokens_out, "cost_usd": got.cost_usd}


def parse(raw: str | None, shape: type[BaseModel] = PanelSummary) -> BaseModel:
    """The reply as a PanelSummary (or a comparison's PairAnswer), letters still; Rejected saying why it is not."""
    try:
        data = extract_json(raw or "")
    except InvalidOutput as exc:
        raise Rejected(str(exc)) from None
    try:
        return shape.model_validate(data)
    except ValidationError as exc:
        where = "; ".join(f"{'.'.join(str(x) for x in e['loc']) or 'summary'}: {e['msg']}" for e in exc.errors()[:3])
        what = "panel summary" if shape is PanelSummary else "comparison answer"
        raise Rejected(f"the reply is not a {what} ({where})") from None


class Grounds:
    """What the chair's points may rest on: letter -> the take it was shown, and the card text(s) a quote may
    also come from. `text` and `point` check one piece of the reply and map letters back (Rejected says what
    failed, naming `where`); they serve the verdict's summary and a comparison's answer alike."""

    def __init__(self, letters: dict[str, Take], card: str, names: dict[str, str],
                 tools: dict[str, str] | None = None):
        self.letters, self.card, self.names = letters, card, names
        self.tools = tools  # slug -> tool name, for a comparison (letters are the takes of two tools)
        self.mentions = chairtext.Mentions([*names, *names.values()])

    def take(self, letter: str) -> Take | None:
        """The take a letter stands for; a failed take says nothing, so it is no take to cite or name."""
        take = self.letters.get(letter)
        return take if take is not None and take.status in ("ok", "abstained") else None

    def named(self, token: str) -> str | None:
        """The letter a mention names ("F", "b", "Founder", "skeptic"), None when it has no take here."""
        if len(token) == 1:
            return token.upper() if self.take(token.upper()) else None
        pid = next((i for i, n in self.names.items() if token.casefold() in (i.casefold(), n.casefold())), token)
        return next((k for k, t in self.letters.items() if t.persona_id == pid and self.take(k)), None)

    def who(self, take: Take) -> str:
        name = self.names.get(take.persona_id, take.persona_id)
        return f"{name} on {self.tools.get(take.tool_slug, take.tool_slug)}" if self.tools else name

    def text(self, value: str, where: str) -> str:
        return self.read(value, where)[0]

    def read(self, value: str, where: str) -> tuple[str, set[str]]:
        """The text as stored (reviewers named by persona) and the letters it names; Rejected when it is empty,
        too long, holds an invisible character, or names a reviewer without a take here."""
        hidden = chairtext.invisible(value)
        if hidden:
            raise Rejected(f"{where} holds an invisible character ({hidden})")
        value = chairtext.readable(prompts.unmark(value))
        if chairtext.wordless(value):
            raise Rejected(f"{where} is empty")
        if len(value) > chairtext.MAX_CHARS:
            raise Rejected(f"{where} is {len(value)} characters long (at most {chairtext.MAX_CHARS})")
        letters = set()
        for _, tokens in self.mentions.find(value):
            for t in tokens:
                letter = self.named(t.group(0))
                if letter is None:
                    raise Rejected(f"{where} names reviewer {t.group(0)}, who has no take in this verdict")
                letters.add(letter)
        return self.mentions.rewrite(value, lambda t: self.who(self.letters[self.named(t)])), letters

    def point(self, p: SummaryPoint, where: str) -> SummaryPoint:
        cites, cited = [], []
        for c in p.reviewers:
            said = chairtext.readable(c.reviewer)
            letter = re.sub(r"^reviewer\s*", "", said, flags=re.I).upper()
            take = self.take(letter) if re.fullmatch(r"[A-Z]", letter) else None
            if take is None:
                raise Rejected(f"{where} cites reviewer {c.reviewer!r}, who has no take in this verdict")
            if take in cited:
                raise Rejected(f"{where} cites reviewer {letter} twice")
            if stance(take) != c.stance:
                raise Rejected(f"{where} says reviewer {letter} ({take.persona_id}) is {c.stance}, but the take is "
                               f"{stance(take)}")
            cites.append(Cite(reviewer=take.persona_id, stance=c.stance, tool=take.tool_slug if self.tools else None))
            cited.append(take)
        quotes = [prompts.unmark(q) for q in p.quotes]
        if len(quotes) > chairtext.MAX_QUOTES or any(len(q) > chairtext.MAX_CHARS for q in quotes):
            raise Rejected(f"{where} quotes more than {chairtext.MAX_QUOTES} short passages")
        # each quote from one source: the card, or one paragraph or quote of a cited take (never run across two)
        sources = [self.card] + [x for t in cited for x in [t.paragraph or "", *t.evidence] if x]
        bad = [q for q in quotes if all(unsupported_quotes([q], source) for source in sources)]
        if bad:
            raise Rejected(f"{where} quotes text that is in neither the cited takes nor the card: {short(bad[0], 80)!r}")
        text, named = self.read(p.text, where)
        uncited = sorted(named - {k for k, t in self.letters.items() if t in cited})
        if uncited:
            raise Rejected(f"{where} names reviewer {uncited[0]} but does not cite it (its stance goes unchecked)")
        return SummaryPoint(text=text, reviewers=cites, quotes=quotes)


def check(s: PanelSummary, letters: dict[str, Take], card: str, names: dict[str, str],
          rules=None) -> PanelSummary:
    """The summary with letters mapped to persona ids, once every check passes (Rejected names the first that
    fails): cited letters have a take here, with the stance claimed; quotes are in the cited takes or the
    card; texts name only reviewers with a take (a point's: ones it cites), claim nothing of the whole panel its
    takes do not say, hold words and no invisible character; the summary is no flood (chairtext.py); no text
    repeats vendor wording or holds a screening rule that holds (`rules`: the rules file)."""
    g = Grounds(letters, card, names)
    shown = [t for t in letters.values() if t.status in ("ok", "abstained")]
    sides = max((len(d.sides) for d in s.disagreements), default=0)
    if max(len(s.agreements), len(s.disagreements), len(s.blind_spots)) > chairtext.MAX_POINTS \
            or sides > max(2, len(shown)):
        raise Rejected(f"the summary has too many points (at most {chairtext.MAX_POINTS} of each kind, and no more "
                       f"sides to a disagreement than reviewers)")
    out = PanelSummary(
        agreements=[g.point(p, f"agreement {i}") for i, p in enumerate(s.agreements, 1)],
        disagreements=[Disagreement(about=g.text(d.about, f"disagreement {i}"),
                                    sides=[g.point(p, f"disagreement {i}, side {j}") for j, p in enumerate(d.sides, 1)])
                       for i, d in enumerate(s.disagreements, 1)],
        blind_spots=[g.text(b, f"blind spot {i}") for i, b in enumerate(s.blind_spots, 1)],
        answer=g.point(s.answer, "the answer"))
    own = [p.text for p in [*out.agreements, *(x for d in out.disagreements for x in d.sides), out.answer]]
    vet([*own, *(d.about for d in out.disagreements), *out.blind_spots], texts(out), [stance(t) for t in shown],
        card, rules)
    return out


def vet(own: list[str], every: list[str], stances: list[str], card: str, rules=None) -> None:
    """The checks on a reply as a whole, for a summary and a comparison's answer alike: `own` (the chair's own
    texts) claim nothing of the whole panel its takes (`stances`) do not say and copy no run of the card;
    `every` text (quotes included) repeats nothing screening flags in the card and passes `screen`."""
    for value in own:
        claim = chairtext.false_claim(value, stances)
        if claim:
            raise Rejected(f"the summary claims of the whole panel what its takes do not say: {short(claim, 80)!r}")
        run = chairtext.copied(value, card)
        if run:
            raise Rejected(f"a text copies the card ({run!r}): the card's words go in quotes")
    if rules:  # what screening flags in the card (any severity: addressed to the panel) is never repeated; each
        # field is read as screening reads it, and the whole card as one text (a sentence across fields)
        parts = [*chairtext.fields(card, _CARD_LABELS), ("description", card)]
        flagged = {f.span for field, text in parts for f in screen_text(field, text, rules)}
        hit = next((f for value in every for f in sorted(flagged) if chairtext.repeats(value, f)), None)
        if hit:
            raise Rejected(f"the summary repeats card text screening flagged as addressed to the panel: {short(hit, 80)!r}")
    screen(every, rules)


def texts(s: PanelSummary) -> list[str]:
    """Every text of a summary, quotes included, in reading order."""
    return ([t for p in s.agreements for t in [p.text, *p.quotes]]
            + [t for d in s.disagreements for t in [d.about, *(x for p in d.sides for x in [p.text, *p.quotes])]]
            + list(s.blind_spots) + [s.answer.text, *s.answer.quotes])


def screen(values: list[str], rules=None) -> None:
    """Screened as takes are: vendor wording a take must not repeat (scoring.injection.ECHO_PHRASES), and, with
    `rules`, the screening rules that hold (severity hold). Meaning rules only warn: they flag ordinary advice
    to readers ("ship with it if you…"), which is what an answer is."""
    for value in values:
        seen = normalise(value).text  # as a reader reads it; and with digits read as letters
        low = "\n".join([value.lower(), seen.lower(), chairtext.leet(seen)])
        echo = next((e for e in ECHO_PHRASES if e in low), None)
        if echo:
            raise Rejected(f"the summary repeats vendor wording: {echo!r}")
        odd = chairtext.machine(seen)
        if odd:
            raise Rejected(f"the summary addresses a model, not a reader: {odd!r}")
        held = [f for f in (screen_text("panel_summary", value, rules) if rules else []) if f.severity == "hold"]
        if held:
            raise Rejected(f"screening rule {held[0].rule} holds: {short(held[0].span, 80)!r}")
