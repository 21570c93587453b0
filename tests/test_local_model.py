"""One real end-to-end review with the bundled local model (llama.cpp server on loopback, no network)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from scoring.rules import SHIP_THRESHOLD

from tests.helpers import SEED_A, cli, project_toml, rows
from toolpanel.flags import Flag
from toolpanel.panel.prompts import prompt_hash
from toolpanel.panel.take import COMPACT, COMPACT_BOUNDS, DEFAULT

PROMPTS = Path(__file__).resolve().parent.parent / "prompts"

pytestmark = pytest.mark.slow


def test_bundled_model_reviews_a_card_end_to_end(tp_home, tmp_path):
    env = {"TOOLPANEL_HOME": os.environ["TOOLPANEL_HOME"]}
    project_toml(tmp_path)  # the fixture panel: five personas, five takes
    r = cli("review", str(SEED_A), env=env, cwd=tmp_path, timeout=600)
    # The grammar (JSON-safe characters, bounded lengths) and the repeat penalty leave the 135M model no
    # reply that is not a take: before them, 1 to 3 of its 5 replies were not JSON at all.
    assert r.returncode == 0, r.stdout + r.stderr
    assert "5 takes asked (5 answered, 0 failed)" in r.stdout, r.stdout
    assert "demo-grade model" in r.stderr and "OPENAI_API_KEY" in r.stderr
    # Five scorecard lines, each a real outcome: a score, an abstention, or a failure with its reason.
    lines = [ln for ln in r.stdout.splitlines()
             if re.match(r"^(Builder|Skeptic|Futurist|Founder|Creator)  ", ln)]
    assert len(lines) == 5
    for ln in lines:
        assert re.search(r"  (\d{1,3}/100 · (ship|skip)( \(flagged: [^)]*\))?|No panel take|"
                         r"Failed \(\w+\))$", ln), ln
    db = tp_home / "warehouse.duckdb"
    takes = rows(db, "SELECT model, status, tokens_in, tokens_out, output_mode, error_class, error, paragraph, "
                     "prompt_hash FROM takes")
    assert len(takes) == 5
    for model, status, tin, tout, mode, error_class, error, paragraph, phash in takes:
        assert model == "smollm2-135m-instruct"
        assert tin > 0 and tout > 0
        assert mode == "json_object_schema"  # llama.cpp rejects json_schema; the schema becomes a grammar
        # the local model gets the compact profile, and its takes are versioned by that profile's hash
        assert phash == prompt_hash(PROMPTS, COMPACT) != prompt_hash(PROMPTS, DEFAULT)
        assert status in ("ok", "abstained") and error_class is None, (status, error)
        # a counted take or an abstention holds the compact grammar's bounds
        assert len((paragraph or "").strip()) <= COMPACT_BOUNDS["paragraph_max"], paragraph
        assert "\n" not in paragraph and "\u2026" not in paragraph, paragraph
    # the grammar makes every counted take coherent (a ship scores 60+, a skip below 60) and grounded: it may
    # quote only the card's own sentences, so no take is flagged "quote not in the card"
    for score, verdict, evidence, flags in rows(db, "SELECT score, verdict, evidence, coalesce(flags, []) FROM takes "
                                                    "WHERE status = 'ok'"):
        assert (verdict == "ship") == (score >= SHIP_THRESHOLD), (score, verdict)
        assert evidence and Flag.UNGROUNDED not in flags, (evidence, flags)
    assert "quote not in the card" not in r.stdout
    assert rows(db, "SELECT count(*) FROM run_history WHERE status IN ('complete', 'incomplete')")[0][0] == 1
    # the server was stopped: its log ends with a clean shutdown
    assert "Application shutdown complete" in (tp_home / "logs" / "local-model.log").read_text()


def test_no_card_text_can_break_the_local_models_grammar():
    """The compact grammar carries the card's sentences as the quotes a take may use. A grammar llama.cpp
    cannot parse takes its server down (every later call of the batch fails), so vendor text must never
    produce one: every example and attack card, and seeded random text, parses with llama.cpp's own parser."""
    import json
    import random
    import string

    llama_cpp = pytest.importorskip("llama_cpp")
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    from toolpanel.ingest.cards import load_card
    from toolpanel.panel.local_model import bundled_gguf
    from toolpanel.panel.take import compact_quotes, grammar_schema
    from toolpanel.panel.patterns import quotable

    model = llama_cpp.Llama(str(bundled_gguf()), vocab_only=True, verbose=False)
    vocab = llama_cpp.llama_model_get_vocab(model.model)

    def parses(quotes: list[str]) -> bool:
        grammar = json_schema_to_gbnf(json.dumps(grammar_schema(COMPACT, quotes)))
        sampler = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode(), b"root")
        if sampler:
            llama_cpp.llama_sampler_free(sampler)
        return bool(sampler)

    assert not parses(['He said "fast" on launch day.'])  # the check can fail: a straight quote breaks it
    root = Path(__file__).resolve().parent.parent / "examples"
    cards = [p for d in ("tools", "attacks") for p in sorted((root / d).glob("*"))
             if p.suffix in (".md", ".yaml") and p.name != "manifest.yaml"]
    assert len(cards) > 40
    for path in cards:
        quotes = compact_quotes(load_card(path))
        assert parses(quotes), path
    rng = random.Random(16)
    alphabet = string.printable + "“”‘’…—–éß漢字😀\u00a0\u200b"
    for _ in range(200):
        text = "Start " + "".join(rng.choice(alphabet) for _ in range(rng.randint(20, 400)))
        quotes = quotable([text], COMPACT_BOUNDS["quote_min"], COMPACT_BOUNDS["quote_max"])
        assert not quotes or parses(quotes), quotes
