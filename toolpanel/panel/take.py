"""The take contract, defined once.

`TakeOutput` is the one definition of a persona's reply. The JSON schemas sent to providers
(`TAKE_JSON_SCHEMA` for strict json_schema, `GRAMMAR_JSON_SCHEMA` for llama.cpp-style grammars) and the
shape described in the prompt (`prompt_contract`) are generated from it, with one set of bounds and
`scoring.SHIP_THRESHOLD` as the one line between ship and skip.
"""

from __future__ import annotations

import json
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from scoring.rules import SHIP_THRESHOLD
from toolpanel.panel.patterns import int_range_pattern, normalise, quotable, text_pattern

PARAGRAPH_MIN = 40
PARAGRAPH_MAX = 1500
EVIDENCE_MAX = 3
QUOTE_MAX = 200

# The content rule a take can break while matching the schema; named in the prompt and in the repair.
COHERENCE_RULE = (f"the verdict must match the score: ship needs a score of {SHIP_THRESHOLD} to 100, "
                  f"skip a score of 0 to {SHIP_THRESHOLD - 1}")


def _describe_evidence(quote_max: int) -> str:
    return (f"1 to {EVIDENCE_MAX} short quotes (each at most {quote_max} characters) copied word for word from "
            "the tool's card, on which your take's main claims rest.")


def _describe_paragraph(paragraph_max: int) -> str:
    return (f"your take, one paragraph of {PARAGRAPH_MIN} to {paragraph_max} characters in your voice; when "
            "abstaining, one sentence saying why.")


class TakeOutput(BaseModel):
    """A persona's reply. Invalid values are rejected, never clamped; field order is the order asked for."""

    model_config = ConfigDict(extra="forbid", strict=False)

    verdict: Literal["ship", "skip"] | None = Field(
        default=None, description='"ship" or "skip". Decide it first: ship means worth shipping with.')
    score: int | None = Field(
        default=None, ge=0, le=100,
        description=f"an integer that matches the verdict: {SHIP_THRESHOLD} to 100 for ship, "
                    f"0 to {SHIP_THRESHOLD - 1} for skip. Pick it for this tool; no score is a default.")
    evidence: list[str] = Field(default_factory=list, description=_describe_evidence(QUOTE_MAX))
    paragraph: str = Field(description=_describe_paragraph(PARAGRAPH_MAX))
    abstain: bool = Field(
        default=False, description="true only when the tool is outside your lens; then reply with only "
                                   "abstain and paragraph.")

    @model_validator(mode="before")
    @classmethod
    def _drop_abstained(cls, data: object) -> object:
        # An abstention's score, verdict and quotes carry no meaning: dropped, so they cannot fail validation.
        if isinstance(data, dict) and data.get("abstain") is True:
            return {**data, "score": None, "verdict": None, "evidence": []}
        return data

    @field_validator("score", mode="before")
    @classmethod
    def _no_bool_score(cls, value: object) -> object:
        if isinstance(value, bool):  # lax int mode would turn JSON `true` into score 1
            raise ValueError("must be an integer 0-100, not true/false")
        return value

    @field_validator("evidence")
    @classmethod
    def _quotes(cls, value: list[str]) -> list[str]:
        # A quote longer than QUOTE_MAX is kept (it is shown shortened, scorecard.shown_quotes); the same quote
        # twice, or one inside another, is kept once; all of these are content, never the reply's shape.
        quotes = dedupe_quotes([q.strip() for q in value])
        if any(not q for q in quotes):
            raise PydanticCustomError("content_rule", "a quote is empty")
        if len(quotes) > EVIDENCE_MAX:
            raise PydanticCustomError("content_rule", f"List should have at most {EVIDENCE_MAX} items after "
                                      f"validation, not {len(quotes)}")
        return quotes

    @model_validator(mode="after")
    def _complete(self) -> "TakeOutput":
        text = self.paragraph.strip()
        if len(text) > PARAGRAPH_MAX:
            raise PydanticCustomError("content_rule", f"paragraph is {len(text)} characters; it must be at most {PARAGRAPH_MAX}")
        if self.abstain:  # one sentence, or none: an abstention is shown as "No panel take"
            return self
        if len(text) < PARAGRAPH_MIN:
            raise PydanticCustomError("content_rule", f"paragraph is {len(text)} characters; it must be at least {PARAGRAPH_MIN}")
        if self.score is None or self.verdict is None:
            raise ValueError("a take that does not abstain needs an integer score 0-100 and a verdict ship|skip")
        if not self.evidence:
            raise ValueError(f"a take that does not abstain needs 1 to {EVIDENCE_MAX} evidence quotes from the card")
        return self

    @property
    def contradiction(self) -> str | None:
        """Why the verdict contradicts the score, or None when they agree (or the persona abstained)."""
        if self.abstain or self.score is None:
            return None
        if (self.verdict == "ship") != (self.score >= SHIP_THRESHOLD):
            return f"verdict '{self.verdict}' with score {self.score} breaks the rule: {COHERENCE_RULE}"
        return None


SCHEMA = "schema"  # not JSON, not an object, a field missing, extra or of the wrong type
CONTENT = "content"  # the shape is right but a content rule failed (paragraph length, score range, quotes)


def dedupe_quotes(quotes: list[str]) -> list[str]:
    """Each quote once, in order: a repeat, or a quote inside another quote of the take, is dropped. Compared
    as the card check compares them (patterns.unsupported_quotes), datamarks (prompts.DATAMARK) as spaces."""
    keys = [normalise(q.replace("\u02c6", " ")).strip("'\" .…,;:") for q in quotes]
    return [q for i, (q, k) in enumerate(zip(quotes, keys))
            if not k or not any(j != i and (k != o or j < i) and re.search(rf"(?<!\w){re.escape(k)}(?!\w)", o)
                                for j, o in enumerate(keys))]


# Pydantic error types that are content rules, not shape: a server honouring the JSON schema's types can
# still produce them, so they say nothing about whether the output mode works.
_CONTENT_ERRORS = frozenset({"greater_than_equal", "less_than_equal", "content_rule"})


class InvalidOutput(ValueError):
    """Internal signal: model output that cannot be a take; the message says why (it is fed to the repair call).

    `kind` is SCHEMA when the reply broke the take's shape (what an output mode is supposed to
    guarantee) and CONTENT when only a content rule failed; only SCHEMA failures demote a mode.
    `rule` names the content rule broken by an otherwise well-formed take ("contradiction")."""

    def __init__(self, message: str, kind: str = SCHEMA, rule: str | None = None):
        super().__init__(message)
        self.kind, self.rule = kind, rule


# --------------------------------------------------------------------------- schemas from the model

def _field(name: str) -> dict:
    """The model's own JSON schema for one field, without null, default and title (every key is required)."""
    schema = dict(TakeOutput.model_json_schema()["properties"][name])
    for variant in schema.pop("anyOf", []):
        if variant.get("type") != "null":
            schema.update(variant)
    for key in ("default", "title", "maxItems", "minimum", "maximum"):
        schema.pop(key, None)
    return schema


def _object(properties: dict) -> dict:
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


def _branches(score_range, quote_bound: dict) -> list[dict]:
    """ship / skip / abstain: the verdict first, then a score range that matches it, and each quote's bound
    as the mode allows it. The paragraph's length is left to validation (llama.cpp refuses 1,500 repeats)."""
    def position(verdict: str, lo: int, hi: int) -> dict:
        evidence = _field("evidence")
        return _object({
            "verdict": {**_field("verdict"), "enum": [verdict]},
            "score": {**_field("score"), **score_range(lo, hi)},
            "evidence": {**evidence, "items": {**evidence["items"], **quote_bound}, "minItems": 1,
                         "maxItems": EVIDENCE_MAX},
            "paragraph": _field("paragraph"),
        })
    return [
        position("ship", SHIP_THRESHOLD, 100),
        position("skip", 0, SHIP_THRESHOLD - 1),
        _object({"abstain": {**_field("abstain"), "enum": [True]}, "paragraph": _field("paragraph")}),
    ]


# Strict json_schema: the root must be an object, so the alternatives sit one level down, under "take".
# OpenAI's strict mode accepts `pattern` but not `maxLength` on strings, so a quote's bound is a pattern.
TAKE_JSON_SCHEMA: dict = _object({"take": {"anyOf": _branches(
    lambda lo, hi: {"type": "integer", "minimum": lo, "maximum": hi}, {"pattern": f"^.{{1,{QUOTE_MAX}}}$"})}})

# Grammar-constrained servers (llama.cpp's json_object + schema): their converter ignores minimum/maximum
# and a 101-value enum makes sampling ~3x slower, so each range is a regex over the digits, which arrive
# as a string and are validated as an integer like any other reply. A root anyOf is fine for a grammar.
# The paragraph is not bounded here: llama.cpp refuses a grammar repeating a character 1,500 times
# ("exceeds sane defaults") and its server then drops every request; a quote's 200 it accepts.
GRAMMAR_JSON_SCHEMA: dict = {"anyOf": _branches(
    lambda lo, hi: {"type": "string", "pattern": int_range_pattern(lo, hi)}, {"maxLength": QUOTE_MAX})}

# -------------------------------------------------------------------------- prompt profiles

DEFAULT, COMPACT = "default", "compact"
PROFILES = (DEFAULT, COMPACT)

# The compact profile (the bundled/local model) tightens the bounds it asks for and its grammar enforces,
# inside TakeOutput's: a 135M model otherwise writes inside the paragraph until max_tokens cuts the JSON
# off. llama.cpp accepts these lengths as a grammar (1,500 "exceeds sane defaults"). Validation is
# unchanged: a compact take is a TakeOutput like any other, never clamped.
COMPACT_BOUNDS = {"paragraph_max": 500, "quote_min": 8, "quote_max": 120}

# Enough output for the longest take the compact grammar allows, at one token per character (digits and
# punctuation tokenise that way): the grammar closes the JSON before max_tokens can cut it off.
COMPACT_MAX_TOKENS = COMPACT_BOUNDS["paragraph_max"] + EVIDENCE_MAX * COMPACT_BOUNDS["quote_max"] + 100


def _text(schema: dict, lo: int, hi: int, first: str) -> dict:
    # A pattern rather than min/maxLength: the grammar's own string rule admits raw newlines (not JSON) and
    # the curly quotes and ellipsis a 135M model writes in place of text (see patterns.GRAMMAR_TEXT_CHARS).
    return {**{k: v for k, v in schema.items() if k not in ("minLength", "maxLength")},
            "pattern": text_pattern(lo, hi, first)}


def _compact_branch(branch: dict) -> dict:
    props = dict(branch["properties"])
    least = PARAGRAPH_MIN if "evidence" in props else 1  # abstaining: one sentence, however short
    paragraph = _text(props["paragraph"], least, COMPACT_BOUNDS["paragraph_max"], "[A-Z]")
    props["paragraph"] = {**paragraph, "description": _describe_paragraph(COMPACT_BOUNDS["paragraph_max"])}
    if "evidence" in props:
        items = _text(props["evidence"]["items"], COMPACT_BOUNDS["quote_min"], COMPACT_BOUNDS["quote_max"],
                      "[A-Za-z0-9]")
        props["evidence"] = {**props["evidence"], "items": items,
                             "description": _describe_evidence(COMPACT_BOUNDS["quote_max"])}
    return {**branch, "properties": props}


def grammar_schema(profile: str = DEFAULT, quotes: list[str] | None = None) -> dict:
    """The grammar schema a profile sends to llama.cpp-style servers (the compact one with its bounds).
    With `quotes` (the card's sentences, patterns.quotable), the compact grammar lets each evidence item
    be only one of them: a 135M model otherwise invents its quotes."""
    if profile == COMPACT:
        branches = [_compact_branch(b) for b in GRAMMAR_JSON_SCHEMA["anyOf"]]
        if quotes:
            ship, skip, abstain = branches
            branches = [_quoting(ship, quotes), _quoting(skip, quotes), abstain]
        return {"anyOf": branches}
    return GRAMMAR_JSON_SCHEMA


def compact_quotes(tool) -> list[str]:
    """What the compact grammar lets a take quote: the sentences of the tool's tagline, description and
    pricing, within the compact quote bounds; a sentence cut to fit ends in "…", so it shows it was cut."""
    texts = [tool.tagline, tool.description, tool.pricing]
    whole = {s for t in texts if t for p in re.split(r"\n\s*\n", t)
             for s in re.split(r"(?<=[.!?])\s+", " ".join(p.split()))}
    cut = quotable(texts, COMPACT_BOUNDS["quote_min"], COMPACT_BOUNDS["quote_max"] - 1)
    return [q if q in whole else q + "…" for q in cut]


def _quoting(branch: dict, quotes: list[str]) -> dict:
    evidence = branch["properties"]["evidence"]
    return {**branch, "properties": {**branch["properties"],
                                     "evidence": {**evidence, "items": {"type": "string", "enum": list(quotes)}}}}


def _placeholder(schema: dict) -> str:
    # A small model copies any literal it is shown (a sample score became the most common score; the text
    # "<quote from the card>" came back as a quote), so text slots are a bare ellipsis, never sample text.
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    if schema.get("type") == "integer":
        return f"<integer {schema.get('minimum', 0)}-{schema.get('maximum', 100)}>"
    return {"array": '["…"]', "boolean": "true | false"}.get(schema.get("type"), '"…"')


def _shape(branch: dict) -> str:
    return "{" + ", ".join(f'"{k}": {_placeholder(v)}' for k, v in branch["properties"].items()) + "}"


def prompt_contract(profile: str = DEFAULT) -> dict:
    """What the system prompt says about the reply, rendered from the model and the strict schema (the
    compact profile states its own, tighter bounds)."""
    ship, skip, abstain = TAKE_JSON_SCHEMA["properties"]["take"]["anyOf"]
    described = {name: f.description for name, f in TakeOutput.model_fields.items()}
    compact = {}
    if profile == COMPACT:  # its own bounds, stated once more in one short line
        described |= {k: v["description"] for k, v in _compact_branch(grammar_schema()["anyOf"][0])["properties"].items()
                      if k in ("evidence", "paragraph")}
        compact = {"bounds": {**COMPACT_BOUNDS, "paragraph_min": PARAGRAPH_MIN, "evidence_max": EVIDENCE_MAX}}
    return compact | {"fields": list(described.items()), "shapes": [_shape(ship), _shape(skip), _shape(abstain)],
                      "rule": COHERENCE_RULE, "threshold": SHIP_THRESHOLD}


# --------------------------------------------------------------------------- parsing

_FENCE = re.compile(r"```(?:json)?\s*(\{.*?\})\s*```", re.S)


def extract_json(text: str) -> object:
    text = (text or "").strip()
    if not text:
        raise InvalidOutput("the reply was empty")
    candidates = [text] + _FENCE.findall(text)
    if "{" in text and "}" in text:
        candidates.append(text[text.index("{"): text.rindex("}") + 1])
    for c in candidates:
        try:
            return json.loads(c)
        except json.JSONDecodeError:
            continue
    raise InvalidOutput("the reply was not a JSON object")


def parse_take(text: str) -> TakeOutput:
    """Raw model text -> a coherent take, or InvalidOutput saying why (with `rule` for a content rule)."""
    data = extract_json(text)
    if not isinstance(data, dict):
        raise InvalidOutput("the reply was JSON but not an object")
    if list(data) == ["take"] and isinstance(data["take"], dict):  # the strict schema's wrapper
        data = data["take"]
    try:
        take = TakeOutput.model_validate(data)
    except ValidationError as exc:
        parts = [f"{'.'.join(str(x) for x in err['loc']) or 'take'}: {err['msg']}" for err in exc.errors()]
        kind = CONTENT if all(e["type"] in _CONTENT_ERRORS for e in exc.errors()) else SCHEMA
        raise InvalidOutput("; ".join(parts), kind) from None
    if take.contradiction:
        raise InvalidOutput(take.contradiction, CONTENT, rule="contradiction")
    return take
