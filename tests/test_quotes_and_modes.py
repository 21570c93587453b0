"""Issue 24: shape is told from content, long quotes count, quotes are shown once and marked when shortened.

The real openai client against the fake HTTP server (`provider_env`); docs/failures.md, docs/take.md."""

from __future__ import annotations

import asyncio
import html
import json
import re
from pathlib import Path
from types import SimpleNamespace

from tests.helpers import rows, write_card
from tests.test_panel import review, takes_by_persona
from toolpanel import scorecard
from toolpanel.config import load_settings
from toolpanel.panel.llm import DEMOTE_AFTER, LLM
from toolpanel.panel.personas import load_personas
from toolpanel.publish.site import publish_site
from toolpanel.panel.take import GRAMMAR_JSON_SCHEMA, QUOTE_MAX, TAKE_JSON_SCHEMA, compact_quotes, parse_take

# One paragraph of 400+ characters: what a real provider quoted whole, word for word.
PARAGRAPH = ("Quillmark turns a folder of Markdown notes into a searchable knowledge base that runs entirely on "
             "your laptop, with no account and no server to keep alive. It indexes headings, links and code blocks "
             "as you save, answers questions with the exact passages it used, and exports everything back to plain "
             "files at any time. Teams share a base by syncing the folder with the tools they already use every day.")
MODEL = "fake-model-1"
MESSAGES = [{"role": "user", "content": "Tool slug: acme\nDescription:\nAcme does one useful thing for "
                                        "developers, quickly.\nEND-TOOL-DATA"}]


def _repair(err: str) -> dict:
    return {"role": "user", "content": f"REPAIR: your previous reply could not be used: {err}."}


def _takes(llm: LLM, n: int) -> list:
    async def run():
        try:
            return [await llm.take(MESSAGES, MODEL, _repair) for _ in range(n)]  # one after another
        finally:
            await llm.aclose()
    return asyncio.run(run())


def _llm(home: Path, **overrides) -> LLM:
    return LLM(load_settings(**overrides), mode_cache=home / "endpoints.json")


def _record(home: Path, fake) -> dict:
    return json.loads((home / "endpoint_modes.json").read_text())[f"{fake.base_url}|{MODEL}"]


def test_a_provider_quoting_whole_paragraphs_gives_five_takes_and_keeps_json_schema(tp_home, provider_env, tmp_path):
    fake = provider_env
    assert len(PARAGRAPH) > 400
    card = write_card(tmp_path / "cards", "quillmark", description=PARAGRAPH)
    fake.script("long_quote", score=80)  # one position: a split panel is held for an editor
    settings, [res] = review([card])
    takes = takes_by_persona(res)
    assert [t.status for t in res.takes] == ["ok"] * 5 and res.verdict.quorum_met
    assert all(t.evidence == [PARAGRAPH] and t.flags == [] and t.output_mode == "json_schema" for t in res.takes)
    assert fake.calls() == 5 + 1  # no repair: a long verbatim quote is not a failure (+1: the panel summary)
    sent = fake.chat_requests()[0]["body"]["response_format"]["json_schema"]["schema"]
    assert sent["properties"]["take"]["anyOf"][0]["properties"]["evidence"]["items"]["pattern"] == "^.{1,200}$"
    home = Path(settings.home)
    assert json.loads((home / "endpoints.json").read_text()) == {f"{fake.base_url}|{MODEL}": "json_schema"}
    assert _record(home, fake) == {"json_schema": {"valid": 5}}
    assert rows(settings.warehouse_path, "SELECT DISTINCT output_mode FROM takes") == [("json_schema",)]

    # shown shortened at a word boundary, marked "…", in the Prefect artifact and on the page
    shown = scorecard.shown_quote(PARAGRAPH)
    assert shown.endswith("…") and len(shown) <= QUOTE_MAX
    assert PARAGRAPH.startswith(shown[:-1]) and PARAGRAPH[len(shown) - 1] == " "  # whole words only
    md = scorecard.markdown(res.tool, res.verdict, res.takes, load_personas(settings.personas_dir))
    assert md.count(f"> “{shown}”") == 5 and PARAGRAPH not in md
    publish_site(load_settings())
    page = html.unescape((settings.site_dir / "tools" / "quillmark.html").read_text(encoding="utf-8"))
    shown_on_page = re.findall(r"<li>“([^”]*)”</li>", page)
    assert shown_on_page == [shown] * 5, shown_on_page
    assert takes["builder"].evidence == [PARAGRAPH]  # the take keeps the whole quote


def test_three_content_failures_in_a_row_do_not_demote(tp_home, provider_env):
    fake = provider_env
    fake.script("contradiction")
    fake.script("short_paragraph", times=2 * DEMOTE_AFTER)  # a call and its repair per take, then contradictions
    llm = _llm(tp_home)
    results = _takes(llm, 2 * DEMOTE_AFTER)
    assert {r.error.split(" · ")[0] for r in results} == {
        "attempt 1, json_schema: take: paragraph is 2 characters; it must be at least 40",
        "attempt 1, json_schema: verdict 'ship' with score 20 breaks the rule: the verdict must match the score: "
        "ship needs a score of 60 to 100, skip a score of 0 to 59"}
    assert all(r.output is None and r.error_class == "invalid_output" for r in results)
    assert llm.mode_for(MODEL) == "json_schema" and llm.notes == []
    assert json.loads((tp_home / "endpoints.json").read_text()) == {f"{fake.base_url}|{MODEL}": "json_schema"}
    assert _record(tp_home, fake) == {"json_schema": {"content": 2 * DEMOTE_AFTER}}


def test_three_shape_failures_in_a_row_demote_and_the_error_lists_every_attempt(tp_home, provider_env):
    fake = provider_env
    fake.script("malformed")
    llm = _llm(tp_home)
    results = _takes(llm, DEMOTE_AFTER)
    assert results[0].error == ("attempt 1, json_schema: the reply was not a JSON object · "
                                "attempt 2 (repair), json_schema: the reply was not a JSON object")
    assert llm.mode_for(MODEL) == "json_object_schema"
    assert llm.notes == [f"{MODEL} at {fake.base_url}: 3 takes in a row broke the json_schema shape; "
                         "using json_object_schema from now on"]
    assert _record(tp_home, fake) == {"json_schema": {"shape": 3}}


def test_a_mode_is_never_demoted_into_one_that_gave_fewer_valid_takes(tp_home, provider_env):
    fake = provider_env
    tp_home.mkdir(parents=True)
    (tp_home / "endpoint_modes.json").write_text(json.dumps({f"{fake.base_url}|{MODEL}": {
        "json_schema": {"valid": 12}, "json_object_schema": {"valid": 1, "shape": 3}}}))
    (tp_home / "endpoints.json").write_text(json.dumps({f"{fake.base_url}|{MODEL}": "json_schema"}))
    fake.script("malformed")
    llm = _llm(tp_home)
    _takes(llm, DEMOTE_AFTER)
    assert llm.mode_for(MODEL) == "json_schema"
    assert llm.notes == [f"{MODEL} at {fake.base_url}: 3 takes in a row broke the json_schema shape, but "
                         "json_object_schema gave fewer valid takes here (1 vs 12); keeping json_schema"]


def test_a_reply_cut_off_by_the_token_limit_is_not_a_demotion_and_says_so(tp_home, provider_env):
    fake = provider_env
    fake.script("cut_off")
    llm = _llm(tp_home, max_tokens=600)
    results = _takes(llm, DEMOTE_AFTER + 1)
    assert llm.mode_for(MODEL) == "json_schema" and llm.notes == []
    assert _record(tp_home, fake) == {"json_schema": {"length": DEMOTE_AFTER + 1}}
    error = results[0].error
    assert error.startswith("attempt 1, json_schema: the reply was cut off at the token limit (max_tokens 600) "
                            "before it was complete (the reply was not a JSON object)")
    assert error.count("cut off at the token limit") == 2 and "attempt 2 (repair), json_schema" in error
    repair = fake.chat_requests()[1]["body"]["messages"][-1]["content"]
    assert "cut off at the token limit" in repair and "write a shorter paragraph, at most 750 characters" in repair


def test_a_cut_off_take_is_stored_failed_with_its_reason(tp_home, provider_env):
    fake = provider_env
    fake.script("cut_off", persona="builder")
    settings, [res] = review([write_card(tp_home.parent / "cards", "acme")])
    builder = takes_by_persona(res)["builder"]
    assert builder.status == "failed" and "cut off at the token limit" in builder.error
    assert [t.status for t in res.takes].count("ok") == 4
    assert json.loads((Path(settings.home) / "endpoints.json").read_text()) == {
        f"{fake.base_url}|{MODEL}": "json_schema"}


def test_a_failed_repair_call_is_listed_after_the_reply_it_repaired(tp_home, provider_env):
    fake = provider_env
    fake.script("500")
    fake.script("malformed", times=1)
    [result] = _takes(_llm(tp_home, max_retries=0), 1)
    assert result.error_class == "InternalServerError"
    assert result.error.startswith("attempt 1, json_schema: the reply was not a JSON object · "
                                   "attempt 2 (repair), json_schema: HTTP 500: ")


def test_the_same_quote_appears_once_per_take():
    quote = "Acme does one useful thing for developers"
    reply = {"verdict": "ship", "score": 80, "paragraph": "A paragraph long enough to count as a take, in a voice.",
             "evidence": [quote, " " + quote.upper() + " ", "one useful thing", "“" + quote + "”", "quickly"]}
    assert parse_take(json.dumps(reply)).evidence == [quote, "quickly"]
    # takes stored before the rule are shown with each quote once, too
    assert scorecard.shown_quotes([quote, quote, "one useful thing", "quickly"]) == [quote, "quickly"]


def test_a_shortened_quote_always_shows_it_was_shortened():
    assert scorecard.shown_quote("Short and whole.") == "Short and whole."
    at_bound = ("words " * 40)[:QUOTE_MAX]  # exactly the bound a schema cut it to, mid-word
    assert at_bound.endswith(" wo") and scorecard.shown_quote(at_bound) == at_bound[:-3] + "…"
    assert scorecard.shown_quote(("word " * 39) + "word.").endswith(".")  # 200 characters, a whole sentence
    long_word = "x" * 300
    assert scorecard.shown_quote(long_word) == "x" * (QUOTE_MAX - 1) + "…"
    # the compact grammar offers a long sentence cut to fit, marked; whole sentences as they are
    tool = SimpleNamespace(tagline="Quick notes.", pricing=None, description=PARAGRAPH)
    quotes = compact_quotes(tool)
    assert "Quick notes." in quotes
    cut = [q for q in quotes if q.endswith("…")]
    assert cut and all(len(q) <= 120 and " ".join(PARAGRAPH.split()).find(q[:-1]) >= 0 for q in cut)


def test_the_quote_bound_is_in_every_schema_that_allows_it():
    ship = TAKE_JSON_SCHEMA["properties"]["take"]["anyOf"][0]
    assert ship["properties"]["evidence"]["items"] == {"type": "string", "pattern": f"^.{{1,{QUOTE_MAX}}}$"}
    assert "maxLength" not in json.dumps(TAKE_JSON_SCHEMA)  # OpenAI's strict mode does not accept it
    assert GRAMMAR_JSON_SCHEMA["anyOf"][0]["properties"]["evidence"]["items"] == {"type": "string",
                                                                                  "maxLength": QUOTE_MAX}
