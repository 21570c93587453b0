"""parse_take: raw model text -> a validated take, or an error message that explains what is wrong."""

from __future__ import annotations

import json

import pytest

from toolpanel.takeout import PARAGRAPH_MAX, PARAGRAPH_MIN, InvalidOutput, TakeOutput, parse_take

PARA = ("The primitive is a real on-device model, and the first task, captioning a photo offline, "
        "works on a mid-range phone. That earns the ship.")


def reply(**overrides) -> str:
    data = {"abstain": False, "paragraph": PARA, "score": 82, "verdict": "ship"}
    data.update(overrides)
    return json.dumps({k: v for k, v in data.items() if v is not ...})


def error_of(text: str) -> str:
    with pytest.raises(InvalidOutput) as exc:
        parse_take(text)
    return str(exc.value)


def test_valid_json():
    take = parse_take(reply())
    assert isinstance(take, TakeOutput)
    assert (take.abstain, take.score, take.verdict, take.paragraph) == (False, 82, "ship", PARA)
    assert take.flags == []


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
    assert error_of("{}") == "abstain: Field required; paragraph: Field required"
    assert error_of(reply(abstain=...)) == "abstain: Field required"


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
    assert take.flags == []


def test_abstain_without_score_or_verdict_or_paragraph_text():
    take = parse_take('{"abstain": true, "paragraph": ""}')
    assert (take.abstain, take.score, take.verdict, take.paragraph) == (True, None, None, "")


@pytest.mark.parametrize("score, verdict, flags", [
    (20, "ship", ["verdict_contradicts_score"]),
    (49, "ship", ["verdict_contradicts_score"]),
    (50, "ship", []),
    (75, "ship", []),
    (85, "skip", ["verdict_contradicts_score"]),
    (70, "skip", ["verdict_contradicts_score"]),
    (69, "skip", []),
    (20, "skip", []),
])
def test_contradiction_flags(score, verdict, flags):
    take = parse_take(reply(score=score, verdict=verdict))
    assert (take.score, take.verdict) == (score, verdict)  # flagged, never rewritten
    assert take.flags == flags


@pytest.mark.parametrize("text,kind", [
    ("not json at all", "schema"),
    ("[1, 2]", "schema"),
    (reply(score="85/100"), "schema"),
    (reply(verdict="maybe"), "schema"),
    (reply(abstain=...), "schema"),
    (reply(score=None), "schema"),
    (reply(score=150), "content"),
    (reply(paragraph="too short"), "content"),
])
def test_invalid_output_says_whether_the_shape_or_a_content_rule_failed(text, kind):
    with pytest.raises(InvalidOutput) as exc:
        parse_take(text)
    assert exc.value.kind == kind
