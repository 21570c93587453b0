"""The model screen (issue 23, `[screening] model`): one short call per new or changed card asking which of
its sentences address whoever reviews it. Each sentence found verbatim in a vendor field becomes a screening
finding (rule `model_screen`, severity warn) that feeds the same differential review as the rules' findings.

Owns: that call (prompts/model_screen.j2, through the one LLM seam, so its retries, timeout and
request count apply; the takes' output modes, through `LLM.complete`), its cache (table `screen_cache`, by
card content hash and model: an unchanged card is never screened twice), its cost (the panel's Spend:
estimate, admit, settle; the `spend` view counts the rows). It fails open to the rules: a refused budget, a
provider error, a timeout or an unusable reply gives no findings and one note naming why; the review goes on.
Never trusts the model's text as a span: only the card's own text is removed from the neutralised copy.
May import: toolpanel (prompts, panel.sidecall, screening, models), warehouse.
"""

from __future__ import annotations

import json
import logging
import re

from toolpanel.panel import prompts
from toolpanel.panel.sidecall import side_call
from toolpanel.models import Finding, ReviewRequest, Reviewer, Tool
from toolpanel.screening.rules import FIELDS
from warehouse.connection import WarehouseBusy
from warehouse.rows import now

RULE = "model_screen"
SCHEMA = {"type": "object", "additionalProperties": False, "required": ["sentences"],
          "properties": {"sentences": {"type": "array", "items": {"type": "string"}}}}
MAX_SENTENCES = 20  # more than this many from one card: the rest are ignored
# A "sentence" shorter than this (non-space characters), or one Latin word, is not one: removed from the copy
# it would cut a name or a word wherever it occurs. One unspaced run of another script (Chinese) may be.
MIN_CHARS = 8
FALLBACK = "the rules alone screened this card"
log = logging.getLogger(__name__)


class Unusable(ValueError):
    """Internal signal: the reply was not the JSON object {"sentences": [...]} (the screen falls back to rules)."""


async def findings(panel: Reviewer, tool: Tool, request: ReviewRequest, run_id: str,
                   found: list[Finding]) -> list[Finding]:
    """The model screen's findings on `tool` not already among `found` ([] when off, refused or failed)."""
    model = panel.settings.screening.model
    if not model:
        return []
    try:
        sentences = await panel.commit.run(lambda con: cached(con, tool.snapshot_hash, model))
    except WarehouseBusy:
        sentences = None  # screen anyway: paying twice beats screening less
    if sentences is None:
        sentences = await _ask(panel, tool, request, run_id, model)
    return spans(tool, sentences or [], found)


def cached(con, snapshot_hash: str, model: str) -> list[str] | None:
    row = con.execute("SELECT sentences FROM screen_cache WHERE snapshot_hash = ? AND model = ? AND sentences IS "
                      "NOT NULL ORDER BY created_at DESC LIMIT 1", [snapshot_hash, model]).fetchone()
    return None if row is None else list(row[0])


def spans(tool: Tool, sentences: list[str], found: list[Finding] = ()) -> list[Finding]:
    """Each sentence as it appears in the card's own fields (whitespace may differ); the rest are dropped."""
    have, out = {(f.field, f.span) for f in found}, []
    for sentence in sentences[:MAX_SENTENCES]:
        words = sentence.split()
        if len(joined := "".join(words)) < MIN_CHARS or (len(words) < 2 and joined.isascii()):
            continue
        rx = re.compile(r"\s+".join(map(re.escape, words)))
        texts = [(name, getattr(tool, name, None)) for name in FIELDS]
        hits = [(name, m.group(0)) for name, text in texts if isinstance(text, str) and (m := rx.search(text))]
        if not hits:
            log.info("model screen: %s: dropped a sentence the card does not contain: %.120r", tool.slug, sentence)
        for name, span in hits:
            if (name, span) not in have:
                have.add((name, span))
                out.append(Finding(field=name, span=span, rule=RULE, severity="warn"))
    return out


def parse(content: str | None) -> list[str]:
    """{"sentences": [...]} from a reply (a fenced or chatty text-mode reply too); Unusable otherwise."""
    text = (content or "").strip()
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    text = fenced.group(1) if fenced else text
    start, end = text.find("{"), text.rfind("}")
    try:
        data = json.loads(text[start:end + 1]) if 0 <= start < end else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise Unusable("the reply is not a JSON object")
    got = data.get("sentences")
    if not isinstance(got, list) or not all(isinstance(s, str) for s in got):
        raise Unusable('the reply has no "sentences" list of strings')
    return got


async def _ask(panel: Reviewer, tool: Tool, request: ReviewRequest, run_id: str, model: str) -> list[str] | None:
    """One paid call, admitted by the budget first; the attempt is recorded (the cache when it worked)."""
    messages = prompts.screen_messages(panel.settings.prompts_dir, tool, prompts.new_marker())
    got = await side_call(panel, request, messages, model, RULE, SCHEMA, lambda raw, _finish: parse(raw),
                          {Unusable: "invalid output"})
    if got.stopped:
        _note(panel.spend.notes, f"model screen: {tool.slug}: not sent, budget: {got.stopped}; {FALLBACK}")
        return None
    sentences, error, tokens_in, tokens_out = got.value, got.error, got.tokens_in, got.tokens_out
    if error:
        _note(panel.llm.notes, f"model screen: {tool.slug}: {model} failed ({error}); {FALLBACK}")
    row = [tool.snapshot_hash, model, sentences, tokens_in, tokens_out,
           got.cost_usd, now(), run_id, tool.slug, error]
    try:
        await panel.commit.run(lambda con: con.execute(
            "INSERT INTO screen_cache (snapshot_hash, model, sentences, tokens_in, tokens_out, cost_usd, created_at, "
            "run_id, slug, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row))
    except WarehouseBusy:  # the answer still serves this review; the next review of the card asks again
        log.warning("model screen: %s: the warehouse is held; its answer was not cached", tool.slug)
    return sentences


def _note(notes: list[str], line: str) -> None:
    log.info(line)  # the CLI prints the notes ("note: ..."); screen_cache keeps each failure's error
    notes.append(line)
