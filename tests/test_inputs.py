"""Every new hostile-input class: the exact `rejected` line a user sees, the batch goes on, rows stay capped."""

from __future__ import annotations

import os

import pytest

from tests.helpers import cli, rows, write_card
from toolpanel.ingest.cards import load_cards
from toolpanel.sections import Limits
from toolpanel.config import load_settings

DESC = "A tool that does one useful thing for developers, described in plain words."
IS_ROOT = os.geteuid() == 0


def _hostile(d, outside):
    """name -> (writer, the line after 'rejected <path>: ')."""
    def w(name, data):
        (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())

    return {
        "port.md": (lambda: w("port.md", f"---\nname: P\nurl: https://example.com:99999/x\n---\n{DESC}\n"),
                    "field 'url': 'https://example.com:99999/x' is not a valid URL: the port is not a number from 1 "
                    "to 65535 — fix the port after the host (e.g. https://example.com:8443/), or leave it out"),
        "ipv6.md": (lambda: w("ipv6.md", f"---\nname: V\nurl: https://[::1/x\n---\n{DESC}\n"),
                    "field 'url': 'https://[::1/x' is not a valid URL: its IPv6 address is not enclosed in [ ] — "
                    "write an IPv6 host as https://[2001:db8::1]/, or use the host's name"),
        "space.md": (lambda: w("space.md", f"---\nname: S\nurl: https://exa mple.com/some path\n---\n{DESC}\n"),
                     "field 'url': 'https://exa mple.com/some path' is not a valid URL: it contains a space — "
                     "remove the spaces, or write them as %20 in the path"),
        "deep.yaml": (lambda: w("deep.yaml", f"name: D\ndescription: {DESC}\nlaunched: " + "[" * 20000 + "]" * 20000),
                      "is nested more than 20 levels deep (line 3) — write fields as 'field: value' lines; no card "
                      "needs deep nesting"),
        "bomb.yaml": (lambda: w("bomb.yaml", 'name: B\ndescription: d\na: &a ["lol","lol","lol"]\nb: &b [*a,*a,*a]\n'
                                             "launched: [*b,*b,*b]\n"),
                      "uses a YAML anchor or alias ('&' or '*') (line 3) — write each value out in full: cards do "
                      "not use anchors or aliases"),
        "dup.md": (lambda: w("dup.md", f"---\nname: One\nname: Two\n---\n{DESC}\n"),
                   "field 'name': is given twice (lines 2 and 3) — keep one of them"),
        "tag.yaml": (lambda: w("tag.yaml", f"name: !!python/object/apply:os.system [ls]\ndescription: {DESC}\n"),
                     "uses the YAML tag '!!python/object/apply:os.system' (line 1) — remove the tag: a card holds "
                     "plain text, dates and lists"),
        "nul.md": (lambda: w("nul.md", f"---\nname: N\x00ul\n---\n{DESC}\n"),
                   "contains a NUL byte at line 2, which YAML does not allow — remove it: a card is plain UTF-8 text"),
        "big.md": (lambda: w("big.md", "---\nname: Big\n---\n" + "x" * 10_000_000),
                   "is 10,000,018 bytes, over the cap of 65,536 bytes — a card is a few kilobytes: trim it "
                   "(descriptions are capped at 8,000 characters), or raise card_bytes under [limits] in "
                   "toolpanel.toml"),
        "dates.yaml": (lambda: w("dates.yaml", f"name: L\ndescription: {DESC}\nlaunched: [2026, 11, 20]\n"),
                       "field 'launched': expected a date, got a list — write it as YYYY-MM-DD, e.g. "
                       "`launched: 2026-11-20`"),
        "dir.yaml": (lambda: (d / "dir.yaml").mkdir(),
                     "is a directory, not a card file — rename it: names ending in .md, .markdown, .yaml or .yml are "
                     "read as cards"),
        "fifo.md": (lambda: os.mkfifo(d / "fifo.md"),
                    "is a named pipe (FIFO), not a card file — remove it from the card directory: only regular files "
                    "are read"),
        "loop.md": (lambda: os.symlink("loop.md", d / "loop.md"),
                    "is a symbolic link that loops back on itself — point it at a card file, or delete it"),
        "dangling.md": (lambda: os.symlink("gone.md", d / "dangling.md"),
                        "is a symbolic link to 'gone.md', which does not exist — point it at an existing card, or "
                        "delete it"),
        "outside.md": (lambda: os.symlink(outside, d / "outside.md"),
                       f"is a symbolic link to '{outside}', outside the card directory — copy the card into the "
                       "directory instead of linking to it"),
    }


@pytest.fixture
def env(tp_home, provider_env) -> dict:
    return {k: os.environ[k] for k in ("TOOLPANEL_HOME", "OPENAI_BASE_URL", "OPENAI_API_KEY", "TOOLPANEL_MODEL")}


def test_each_hostile_card_is_one_exact_line_and_the_good_cards_are_reviewed(env, tp_home, tmp_path):
    cards = tmp_path / "cards"
    cards.mkdir()
    secret = tmp_path / "secret.md"
    secret.write_text(f"---\nname: Secret Tool\n---\n{DESC}\n")
    cases = _hostile(cards, secret)
    for make, _ in cases.values():
        make()
    write_card(cards, "good-one")
    os.symlink(cards / "good-one.md", cards / "alias-of-good.md")  # stays inside: read once, no rejection
    r = cli("review", str(cards), env=env, cwd=tmp_path, timeout=120)
    assert "Traceback" not in r.stderr
    rejected = [line for line in r.stderr.splitlines() if line.startswith("rejected ")]
    assert sorted(rejected) == sorted(f"rejected {cards / name}: {line}" for name, (_, line) in cases.items())
    assert "Good One" in r.stdout and "Secret Tool" not in r.stdout  # the link out was never read
    assert r.returncode == 1
    stored = rows(tp_home / "warehouse.duckdb", "SELECT item, reason FROM rejections ORDER BY item")
    assert [i for i, _ in stored] == sorted(str(cards / n) for n in cases)
    assert all(len(reason) <= 500 for _, reason in stored)


@pytest.mark.skipif(IS_ROOT, reason="root reads files whatever their permissions")
def test_unreadable_card(tmp_path):
    p = write_card(tmp_path, "locked")
    p.chmod(0)
    _, errors = load_cards([tmp_path])
    assert [str(e) for e in errors] == [f"{p}: cannot be read (permission denied) — make the file readable "
                                        "(chmod a+r), or move it out of the card directory"]


def test_a_huge_bad_value_gives_a_capped_line_and_row(env, tp_home, tmp_path):
    cards = tmp_path / "cards"
    write_card(cards, "good-one")
    (cards / "long.yaml").write_text(f"name: L\ndescription: {DESC}\nlaunched: '{'9' * 60_000}'\n")
    r = cli("review", str(cards), env=env, cwd=tmp_path)
    line = next(x for x in r.stderr.splitlines() if x.startswith("rejected "))
    assert line == (f"rejected {cards / 'long.yaml'}: field 'launched': '{'9' * 79}…' is not a date — write it as "
                    "YYYY-MM-DD, e.g. `launched: 2026-11-20`")
    (reason,), = rows(tp_home / "warehouse.duckdb", "SELECT reason FROM rejections")
    assert reason == line.split(": ", 1)[1] and len(reason) <= 500


def test_limits_come_from_the_limits_section(tp_home, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "toolpanel.toml").write_text("[limits]\ncard_bytes = 2048\nyaml_depth = 3\nmessage_chars = 120\n")
    limits = load_settings().limits
    assert limits == Limits(card_bytes=2048, yaml_depth=3, message_chars=120, source_bytes=2_000_000)
    write_card(tmp_path / "c", "fits")
    (tmp_path / "c" / "nested.yaml").write_text(f"name: N\ndescription: {DESC}\nlaunched: [[[1]]]\n")
    (tmp_path / "c" / "big.md").write_text(f"---\nname: B\n---\n{'x' * 3000}\n")
    tools, errors = load_cards([tmp_path / "c"], limits)
    assert [t.slug for t in tools] == ["fits"]
    assert [str(e) for e in errors] == [
        f"{tmp_path / 'c' / 'big.md'}: is 3,017 bytes, over the cap of 2,048 bytes — a card is a few kilobytes: trim "
        "it (descriptions are capped at 8,000 characters), or raise card_bytes under [limits] in toolpanel.toml",
        f"{tmp_path / 'c' / 'nested.yaml'}: is nested more than 3 levels deep (line 3) — write fields as 'field: "
        "value' lines; no card needs deep nesting"]


def test_a_mistake_in_limits_names_the_key(tp_home, tmp_path):
    (tmp_path / "toolpanel.toml").write_text("[limits]\ncard_kb = 64\n")
    r = cli("ingest", str(tmp_path), cwd=tmp_path)
    assert r.returncode == 2
    assert (f"{tmp_path / 'toolpanel.toml'}: [limits]: unknown key 'card_kb' (allowed: card_bytes, yaml_depth, "
            "message_chars, source_bytes)") in r.stderr


def test_broken_feed_items_and_sources_are_one_line_each(tp_home, tmp_path):
    (tmp_path / "list.json").write_text(
        '[{"name": "Good", "url": "https://good.example.com", "description": "d"},'
        ' {"name": "Port", "url": "https://example.com:99999/x", "description": "d"},'
        ' {"name": {"a": 1}, "url": "https://x.example.com", "description": "d"}, 7]')
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    r = cli("ingest", "list.json", "deep.json", cwd=tmp_path)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    lines = [x.strip() for x in r.stdout.splitlines()]
    assert ("rejected   item 2 \"Port\": field 'link': 'https://example.com:99999/x' is not a valid URL: the port is "
            "not a number from 1 to 65535 — only http(s) links are read; the item was skipped") in lines
    assert ("rejected   item 3: field 'title': expected text, got a dict — the publisher must give this field as "
            "text; the item was skipped") in lines
    assert ("rejected   item 4: field 'title': has no title — the publisher must give every item a title; the item "
            "was skipped") in lines
    assert ("deep.json (auto): failed — is JSON nested too deeply to read — the publisher must fix the document; "
            "nothing from it was read this run") in lines
    assert any(x.startswith("new") and "Good" in x for x in lines)
