"""parse_take: raw model text -> a validated take, or an error message that explains what is wrong."""

from __future__ import annotations

import json

import pytest

import re

from scoring.rules import SHIP_THRESHOLD
from toolpanel.panel.take import GRAMMAR_JSON_SCHEMA, PARAGRAPH_MAX, PARAGRAPH_MIN, QUOTE_MAX, TAKE_JSON_SCHEMA, InvalidOutput, TakeOutput, parse_take, prompt_contract
from toolpanel.panel.patterns import int_range_pattern, normalise, unsupported_quotes

QUOTE = "captions photos offline on a mid-range phone"
PARA = ("The primitive is a real on-device model, and the first task, captioning a photo offline, "
        "works on a mid-range phone. That earns the ship.")


def reply(**overrides) -> str:
    data = {"abstain": False, "paragraph": PARA, "score": 82, "verdict": "ship", "evidence": [QUOTE]}
    data.update(overrides)
    return json.dumps({k: v for k, v in data.items() if v is not ...})


def error_of(text: str, rule: str | None = None) -> str:
    with pytest.raises(InvalidOutput) as exc:
        parse_take(text)
    assert exc.value.rule == rule
    return str(exc.value)


def test_valid_json():
    take = parse_take(reply())
    assert isinstance(take, TakeOutput)
    assert (take.abstain, take.score, take.verdict, take.paragraph, take.evidence) == (False, 82, "ship", PARA,
                                                                                        [QUOTE])


def test_json_in_fences_with_chatter():
    text = f"Sure! Here is my take:\n\n```json\n{reply(score=35, verdict='skip')}\n```\n\nLet me know if you need more."
    take = parse_take(text)
    assert (take.score, take.verdict, take.paragraph) == (35, "skip", PARA)


def test_json_in_bare_fences():
    assert parse_take(f"```\n{reply()}\n```").score == 82


def test_json_object_embedded_in_prose():
    assert parse_take(f"My answer: {reply(score=64)} — thanks.").score == 64


def test_not_json():
    assert error_of("I think this tool is great, ship it!") == "the reply was not a JSON object"


def test_empty_reply():
    assert error_of("  \n") == "the reply was empty"


def test_json_but_not_an_object():
    assert error_of("[82, \"ship\"]") == "the reply was JSON but not an object"


def test_score_over_100_is_rejected_not_clamped():
    msg = error_of(reply(score=150))
    assert msg == "score: Input should be less than or equal to 100"
    assert "score" in msg and "100" in msg


def test_negative_score():
    assert error_of(reply(score=-1)) == "score: Input should be greater than or equal to 0"


def test_score_with_decimals_as_text():
    assert error_of(reply(score="85.5")) == "score: Input should be a valid integer, unable to parse string as an integer"


def test_score_with_decimals_as_number():
    assert error_of(reply(score=85.5)) == "score: Input should be a valid integer, got a number with a fractional part"


def test_score_as_integer_text_is_accepted():
    assert parse_take(reply(score="85")).score == 85


def test_score_true_is_not_read_as_1():
    assert error_of(reply(score=True)) == "score: Value error, must be an integer 0-100, not true/false"


def test_verdict_maybe():
    assert error_of(reply(verdict="maybe")) == "verdict: Input should be 'ship' or 'skip'"


def test_paragraph_too_short_names_the_minimum():
    msg = error_of(reply(paragraph="Looks good to me."))
    assert msg == "take: paragraph is 17 characters; it must be at least 40"
    assert PARAGRAPH_MIN == 40


def test_paragraph_length_counts_without_outer_whitespace():
    assert error_of(reply(paragraph="   " + "x" * 39 + "   ")) == (
        "take: paragraph is 39 characters; it must be at least 40")
    assert parse_take(reply(paragraph="x" * 40)).paragraph == "x" * 40


def test_paragraph_too_long():
    assert error_of(reply(paragraph="x" * (PARAGRAPH_MAX + 1))) == (
        "take: paragraph is 1501 characters; it must be at most 1500")
    assert len(parse_take(reply(paragraph="x" * PARAGRAPH_MAX)).paragraph) == PARAGRAPH_MAX


def test_missing_fields():
    assert error_of("{}") == "paragraph: Field required"
    assert parse_take(reply(abstain=...)).abstain is False  # the ship and skip shapes have no "abstain"


def test_missing_score_and_verdict_when_not_abstaining():
    assert error_of(reply(score=..., verdict=...)) == (
        "take: Value error, a take that does not abstain needs an integer score 0-100 and a verdict ship|skip")
    assert error_of(reply(score=None)) == (
        "take: Value error, a take that does not abstain needs an integer score 0-100 and a verdict ship|skip")


def test_extra_field():
    assert error_of(reply(confidence=0.9)) == "confidence: Extra inputs are not permitted"


@pytest.mark.parametrize("score, verdict", [(0, "skip"), (85, "ship"), (None, None), (150, "maybe"), (-1, "n/a")])
def test_abstain_drops_any_score_and_verdict(score, verdict):
    take = parse_take(reply(abstain=True, paragraph="No panel take", score=score, verdict=verdict))
    assert take.abstain is True
    assert (take.score, take.verdict) == (None, None)
    assert take.paragraph == "No panel take"
    assert take.evidence == []


def test_abstain_without_score_or_verdict_or_paragraph_text():
    take = parse_take('{"abstain": true, "paragraph": ""}')
    assert (take.abstain, take.score, take.verdict, take.paragraph) == (True, None, None, "")


def test_missing_evidence_is_a_schema_failure():
    assert error_of(reply(evidence=[])) == (
        "take: Value error, a take that does not abstain needs 1 to 3 evidence quotes from the card")
    assert error_of(reply(evidence=...)) == (
        "take: Value error, a take that does not abstain needs 1 to 3 evidence quotes from the card")


def test_evidence_bounds():
    assert error_of(reply(evidence=["a", "b", "c", "d"])) == "evidence: List should have at most 3 items after validation, not 4"
    # issue 24: a verbatim quote longer than the bound is kept whole (pages show it shortened, marked "…")
    assert [len(q) for q in parse_take(reply(evidence=["x" * (QUOTE_MAX + 1)])).evidence] == [QUOTE_MAX + 1]
    assert parse_take(reply(evidence=["  " + QUOTE + " "])).evidence == [QUOTE]


def test_strict_schema_wrapper_is_unwrapped():
    take = parse_take(json.dumps({"take": {"verdict": "skip", "score": 12, "evidence": [QUOTE], "paragraph": PARA}}))
    assert (take.verdict, take.score, take.abstain) == ("skip", 12, False)


@pytest.mark.parametrize("score, verdict", [(20, "ship"), (59, "ship"), (60, "skip"), (100, "skip")])
def test_contradiction_is_invalid_output_naming_the_rule(score, verdict):
    msg = error_of(reply(score=score, verdict=verdict), rule="contradiction")
    assert msg == (f"verdict '{verdict}' with score {score} breaks the rule: the verdict must match the score: "
                   "ship needs a score of 60 to 100, skip a score of 0 to 59")


@pytest.mark.parametrize("score, verdict", [(60, "ship"), (100, "ship"), (59, "skip"), (0, "skip")])
def test_coherent_takes_at_the_threshold(score, verdict):
    take = parse_take(reply(score=score, verdict=verdict))
    assert (take.score, take.verdict) == (score, verdict)  # never rewritten


def test_schema_errors_carry_no_rule():
    error_of(reply(score=150), rule=None)
    error_of("nope", rule=None)


def test_int_range_pattern_matches_exactly_the_range():
    assert int_range_pattern(60, 100) == "^(100|[6-9][0-9])$"
    assert int_range_pattern(0, 59) == "^([1-5]?[0-9])$"
    for lo, hi in [(0, 100), (50, 100), (0, 49), (65, 100), (0, 64), (5, 100), (0, 9), (10, 100), (70, 85)]:
        pattern = int_range_pattern(lo, hi)
        assert {n for n in range(1000) if re.match(pattern, str(n))} == set(range(lo, hi + 1)), pattern
        assert not re.match(pattern, "05")


def _branches(schema):
    return schema["properties"]["take"]["anyOf"] if "properties" in schema else schema["anyOf"]


def test_schemas_put_coherence_into_the_verdict_branches():
    ship, skip, abstain = _branches(TAKE_JSON_SCHEMA)
    assert list(ship["properties"]) == ["verdict", "score", "evidence", "paragraph"] == ship["required"]
    assert ship["properties"]["verdict"]["enum"] == ["ship"]
    assert (ship["properties"]["score"]["minimum"], ship["properties"]["score"]["maximum"]) == (SHIP_THRESHOLD, 100)
    assert (skip["properties"]["score"]["minimum"], skip["properties"]["score"]["maximum"]) == (0, SHIP_THRESHOLD - 1)
    assert (ship["properties"]["evidence"]["minItems"], ship["properties"]["evidence"]["maxItems"]) == (1, 3)
    assert abstain["required"] == ["abstain", "paragraph"]
    for branch in (ship, skip, abstain):
        assert branch["additionalProperties"] is False
    assert TAKE_JSON_SCHEMA["type"] == "object" and TAKE_JSON_SCHEMA["required"] == ["take"]  # strict: object root
    g_ship, g_skip, _ = _branches(GRAMMAR_JSON_SCHEMA)
    assert g_ship["properties"]["score"] == {**g_ship["properties"]["score"], "type": "string",
                                             "pattern": "^(100|[6-9][0-9])$"}
    assert g_skip["properties"]["score"]["pattern"] == "^([1-5]?[0-9])$"


def test_schema_descriptions_come_from_the_model():
    ship = _branches(TAKE_JSON_SCHEMA)[0]
    for name in ("verdict", "score", "evidence", "paragraph"):
        assert ship["properties"][name]["description"] == TakeOutput.model_fields[name].description
    contract = prompt_contract()
    assert [n for n, _ in contract["fields"]] == ["verdict", "score", "evidence", "paragraph", "abstain"]
    assert contract["shapes"][0] == '{"verdict": "ship", "score": <integer 60-100>, "evidence": ["…"], "paragraph": "…"}'
    assert f"{PARAGRAPH_MIN} to {PARAGRAPH_MAX} characters" in dict(contract["fields"])["paragraph"]


def test_schemas_accepted_by_llama_cpp_grammar_converter():
    gbnf = pytest.importorskip("llama_cpp.llama_grammar")
    grammar = gbnf.json_schema_to_gbnf(json.dumps(GRAMMAR_JSON_SCHEMA))
    assert "(\"10\" \"0\" | [6-9] [0-9])" in grammar and "([1-5]? [0-9])" in grammar
    assert "root ::= alternative-0 | alternative-1 | alternative-2" in grammar


def test_quotes_checked_with_whitespace_case_and_quote_marks_normalised():
    card = "Name: Cutline\nDescription: Cutline’s editor  trims\n silences \"automatically\"."
    assert unsupported_quotes(["cutline's EDITOR trims silences", "“automatically”", "'trims silences…'"], card) == []
    assert unsupported_quotes(["trims silences in real time", "", "...", "…”,", "ed"], card) == [
        "trims silences in real time", "", "...", "…”,", "ed"]  # framing alone, or two letters, quote nothing
    assert normalise("  A\u2019B  “c” ") == "a'b \"c\""


@pytest.mark.parametrize("text,kind", [
    ("not json at all", "schema"),
    ("[1, 2]", "schema"),
    (reply(score="85/100"), "schema"),
    (reply(verdict="maybe"), "schema"),
    (reply(evidence="not a list"), "schema"),
    (reply(score=None), "schema"),
    (reply(score=150), "content"),
    (reply(paragraph="too short"), "content"),
    (reply(score=20, verdict="ship"), "content"),  # contradiction: a content rule, repaired once
])
def test_invalid_output_says_whether_the_shape_or_a_content_rule_failed(text, kind):
    with pytest.raises(InvalidOutput) as exc:
        parse_take(text)
    assert exc.value.kind == kind
