"""Prompt profiles: providers get the cache-friendly panel layout, the local model a compact prompt of its own."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from toolpanel.panel import prompts
from toolpanel.ingest.cards import load_card
from toolpanel.config import load_settings
from toolpanel.panel.personas import load_personas
from toolpanel.panel.provider import LOCAL_API_KEY, profile_for
from toolpanel.panel.take import COMPACT, COMPACT_BOUNDS, DEFAULT, GRAMMAR_JSON_SCHEMA, PARAGRAPH_MAX, PARAGRAPH_MIN, QUOTE_MAX, compact_quotes, grammar_schema, parse_take
from toolpanel.panel.patterns import quotable, unsupported_quotes

ROOT = Path(__file__).resolve().parent.parent
PERSONAS = load_personas(ROOT / "personas")
TOOL = load_card(ROOT / "examples" / "tools" / "smolvlm2-turbo.md")


def render(profile: str, persona_index: int = 1, directory: Path = ROOT / "prompts") -> list[dict]:
    shared = prompts.shared_messages(directory, TOOL, "TOOL-DATA-x1", PERSONAS, profile)
    return shared + [prompts.persona_message(directory, PERSONAS[persona_index], profile)]


def text(messages: list[dict]) -> str:
    return "\n".join(m["content"] for m in messages)


def test_compact_prompt_has_only_this_personas_lens_the_rules_the_card_and_the_shape():
    me, others = PERSONAS[1], [p for i, p in enumerate(PERSONAS) if i != 1]
    compact = text(render(COMPACT))
    assert me.lens in compact and me.abstain_when in compact
    assert all(q in compact for q in me.questions)
    for other in others:  # not the whole panel
        assert other.lens not in compact and other.abstain_when not in compact
    assert "TOOL-DATA-x1" in compact and "END-TOOL-DATA-x1" in compact  # the vendor-data boundary
    assert TOOL.description.strip().splitlines()[0] in compact
    assert f"{PARAGRAPH_MIN}-{COMPACT_BOUNDS['paragraph_max']} characters" in compact
    assert '{"abstain": true, "paragraph": "…"}' in compact
    assert '"verdict": "skip", "score": <integer 0-59>' in compact
    # The default layout keeps every lens in the shared prefix (providers' prefix caches).
    default = text(render(DEFAULT))
    assert all(p.lens in default for p in PERSONAS)
    assert len(compact) < 0.45 * len(default)


def test_prompt_hash_differs_per_profile_and_default_ignores_compact_templates(tmp_path):
    copy = tmp_path / "prompts"
    shutil.copytree(ROOT / "prompts", copy)
    default, compact = prompts.prompt_hash(copy, DEFAULT), prompts.prompt_hash(copy, COMPACT)
    assert default != compact
    (copy / "compact_persona.j2").write_text((copy / "compact_persona.j2").read_text() + "Be brief.\n")
    assert prompts.prompt_hash(copy, DEFAULT) == default  # provider takes stay cached
    assert prompts.prompt_hash(copy, COMPACT) != compact
    (copy / "system.j2").write_text((copy / "system.j2").read_text() + "\n")
    assert prompts.prompt_hash(copy, DEFAULT) != default
    # recorded parts: each profile's own templates (toolpanel why shows them)
    assert "compact_system.j2" in prompts.template_sources(copy, COMPACT)
    assert "compact_system.j2" not in prompts.template_sources(copy, DEFAULT)


def test_profile_follows_the_provider(tp_home, monkeypatch):
    local = load_settings()
    assert profile_for(local) == COMPACT
    # the settings toolpanel.panel.provider hands on once the local server is up
    started = local.model_copy(update={"base_url": "http://127.0.0.1:1/v1", "api_key": LOCAL_API_KEY})
    assert profile_for(started) == COMPACT
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert profile_for(load_settings()) == DEFAULT


def test_compact_grammar_is_tighter_than_the_take_contract_never_looser():
    compact = grammar_schema(COMPACT)
    assert grammar_schema(DEFAULT) is GRAMMAR_JSON_SCHEMA
    ship = compact["anyOf"][0]["properties"]
    paragraph, quote = re.compile(ship["paragraph"]["pattern"]), re.compile(ship["evidence"]["items"]["pattern"])
    abstained = re.compile(compact["anyOf"][2]["properties"]["paragraph"]["pattern"])
    longest = "A" + "x" * (COMPACT_BOUNDS["paragraph_max"] - 2) + "."
    assert paragraph.match(longest) and not paragraph.match(longest + "x")
    assert paragraph.match("A" * PARAGRAPH_MIN) and not paragraph.match("A" * (PARAGRAPH_MIN - 1))
    assert quote.match("q" * COMPACT_BOUNDS["quote_max"]) and not quote.match("q" * (COMPACT_BOUNDS["quote_max"] + 1))
    assert not quote.match("q" * (COMPACT_BOUNDS["quote_min"] - 1))
    assert abstained.match("Outside my lens.") and not abstained.match("A" * (COMPACT_BOUNDS["paragraph_max"] + 1))
    # what a 135M model writes instead of JSON text: a raw newline inside the string (llama-cpp-python's own
    # string rule lets it through), a curly quote or ellipsis in place of the closing quote, a blank start
    for broken in ("Fine tool\nFuturist: more", "Fine tool”, “and more", "… filler text here", " Leading",
                   'Half "quoted', "back\\slash"):
        assert not paragraph.match(broken.ljust(PARAGRAPH_MIN, "x")), broken
    # the same fields in the same order as the default grammar: one contract, tighter bounds
    assert [list(b["properties"]) for b in compact["anyOf"]] == [list(b["properties"]) for b in GRAMMAR_JSON_SCHEMA["anyOf"]]
    # a take at the compact bounds is a valid take (validation is TakeOutput's, unchanged)
    take = parse_take(json.dumps({"verdict": "skip", "score": 12, "evidence": ["q" * COMPACT_BOUNDS["quote_max"]],
                                  "paragraph": longest}))
    assert take.paragraph == longest


def test_compact_grammar_converts_for_llama_cpp():
    gbnf = pytest.importorskip("llama_cpp.llama_grammar")
    grammar = gbnf.json_schema_to_gbnf(json.dumps(grammar_schema(COMPACT)))
    assert "paragraph" in grammar and "evidence" in grammar


def test_compact_grammar_quotes_only_the_cards_own_sentences():
    cards = sorted((ROOT / "examples" / "tools").iterdir())
    for path in cards:
        tool = load_card(path)
        quotes = compact_quotes(tool)
        assert len(quotes) >= 5, path
        # every quote the grammar offers is on the card, within the compact bounds, and grammar-safe
        assert unsupported_quotes(quotes, tool.card_text()) == [], path
        for q in quotes:
            assert COMPACT_BOUNDS["quote_min"] <= len(q) <= COMPACT_BOUNDS["quote_max"], q
            assert '"' not in q and "\\" not in q and "\n" not in q, q
        ship, skip, abstain = grammar_schema(COMPACT, quotes)["anyOf"]
        assert ship["properties"]["evidence"]["items"] == {"type": "string", "enum": quotes}
        assert skip["properties"]["evidence"]["items"]["enum"] == quotes and "evidence" not in abstain["properties"]
    # a long sentence is cut at a clause break (or a word), never mid-word; straight quotes are left out
    long = ("Marrow DB is an embedded database that runs inside the application process, like SQLite or DuckDB, "
            "and stores columnar data in a single file.")
    assert quotable([long], 8, 120) == ["Marrow DB is an embedded database that runs inside the application "
                                        "process, like SQLite or DuckDB"]
    assert quotable(['It says "fast" on the box. Plain sentence here.'], 8, 120) == ["Plain sentence here."]
    # the default profile and a call without quotes keep the free-text grammar
    assert grammar_schema(DEFAULT, ["a quote from it"]) is GRAMMAR_JSON_SCHEMA
    assert "pattern" in grammar_schema(COMPACT)["anyOf"][0]["properties"]["evidence"]["items"]


def test_compact_grammar_with_quotes_converts_for_llama_cpp():
    gbnf = pytest.importorskip("llama_cpp.llama_grammar")
    grammar = gbnf.json_schema_to_gbnf(json.dumps(grammar_schema(COMPACT, compact_quotes(TOOL))))
    assert compact_quotes(TOOL)[0] in grammar
