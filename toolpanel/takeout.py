"""The structured output a persona must return, and how raw model text is parsed into it."""

from __future__ import annotations

import json
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

PARAGRAPH_MIN = 40
PARAGRAPH_MAX = 1500
# A ship below this score, or a skip at or above the other, contradicts itself and is flagged.
SHIP_FLOOR = 50
SKIP_CEILING = 70

# Every field is required and non-null so that a strict json_schema endpoint, or a grammar built from
# the schema (llama.cpp), can only produce a well-formed take. An abstaining persona's score and
# verdict are ignored.
TAKE_JSON_SCHEMA: dict = {
    "type": "object",
    "properties": {
        "abstain": {"type": "boolean"},
        "paragraph": {"type": "string"},
        "score": {"type": "integer", "minimum": 0, "maximum": 100},
        "verdict": {"type": "string", "enum": ["ship", "skip"]},
    },
    "required": ["abstain", "paragraph", "score", "verdict"],
    "additionalProperties": False,
}

# For grammar-constrained servers (llama.cpp's json_object + schema): their schema-to-grammar converter
# ignores minimum/maximum and a 101-value enum makes sampling ~3x slower, so the range is a regex.
# The digits arrive as a string and are validated as an integer like any other reply.
GRAMMAR_JSON_SCHEMA: dict = {
    **TAKE_JSON_SCHEMA,
    "properties": {**TAKE_JSON_SCHEMA["properties"],
                   "score": {"type": "string", "pattern": "^(100|[1-9]?[0-9])$"}},
}


class TakeOutput(BaseModel):
    """Validated persona output. Invalid values are rejected, never clamped."""

    model_config = ConfigDict(extra="forbid", strict=False)

    abstain: bool
    paragraph: str
    score: int | None = Field(default=None, ge=0, le=100)
    verdict: Literal["ship", "skip"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _drop_abstained(cls, data: object) -> object:
        # An abstention's score/verdict are ignored, so they must not fail validation (e.g. score -1).
        if isinstance(data, dict) and data.get("abstain") is True:
            return {**data, "score": None, "verdict": None}
        return data

    @field_validator("score", mode="before")
    @classmethod
    def _no_bool_score(cls, value: object) -> object:
        # Lax int mode would turn JSON `true` into score 1.
        if isinstance(value, bool):
            raise ValueError("must be an integer 0-100, not true/false")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "TakeOutput":
        text = self.paragraph.strip()
        if self.abstain:
            # Score and verdict of an abstention carry no meaning; they are dropped, not stored.
            return self.model_copy(update={"score": None, "verdict": None})
        if self.score is None or self.verdict is None:
            raise ValueError("a take that does not abstain needs an integer score 0-100 and a verdict ship|skip")
        if len(text) < PARAGRAPH_MIN:
            raise PydanticCustomError("content_rule", f"paragraph is {len(text)} characters; it must be at least "
                                      f"{PARAGRAPH_MIN}")
        if len(text) > PARAGRAPH_MAX:
            raise PydanticCustomError("content_rule", f"paragraph is {len(text)} characters; it must be at most "
                                      f"{PARAGRAPH_MAX}")
        return self

    @property
    def flags(self) -> list[str]:
        if self.abstain or self.score is None:
            return []
        if self.verdict == "ship" and self.score < SHIP_FLOOR:
            return ["verdict_contradicts_score"]
        if self.verdict == "skip" and self.score >= SKIP_CEILING:
            return ["verdict_contradicts_score"]
        return []


SCHEMA = "schema"  # not JSON, not an object, a field missing, extra or of the wrong type
CONTENT = "content"  # the shape is right but a content rule failed (paragraph length, score range)

# Pydantic error types that are content rules, not shape: a server honouring the JSON schema's types can
# still produce them, so they say nothing about whether the output mode works.
_CONTENT_ERRORS = frozenset({"greater_than_equal", "less_than_equal", "content_rule"})


class InvalidOutput(ValueError):
    """Model output that cannot be a take; the message says why (it is fed to the repair call).

    `kind` is SCHEMA when the reply broke the take's shape (what an output mode is supposed to
    guarantee) and CONTENT when only a content rule failed; only SCHEMA failures demote a mode."""

    def __init__(self, message: str, kind: str = SCHEMA):
        super().__init__(message)
        self.kind = kind


_FENCE = re.compile(r"```(?:json)?\s*(\{.*?\})\s*```", re.S)


def extract_json(text: str) -> object:
    text = (text or "").strip()
    if not text:
        raise InvalidOutput("the reply was empty")
    candidates = [text]
    candidates += _FENCE.findall(text)
    if "{" in text and "}" in text:
        candidates.append(text[text.index("{"): text.rindex("}") + 1])
    for c in candidates:
        try:
            return json.loads(c)
        except json.JSONDecodeError:
            continue
    raise InvalidOutput("the reply was not a JSON object")


def parse_take(text: str) -> TakeOutput:
    data = extract_json(text)
    if not isinstance(data, dict):
        raise InvalidOutput("the reply was JSON but not an object")
    try:
        return TakeOutput.model_validate(data)
    except ValidationError as exc:
        parts = []
        for err in exc.errors():
            loc = ".".join(str(x) for x in err["loc"]) or "take"
            parts.append(f"{loc}: {err['msg']}")
        kind = CONTENT if all(e["type"] in _CONTENT_ERRORS for e in exc.errors()) else SCHEMA
        raise InvalidOutput("; ".join(parts), kind) from None
