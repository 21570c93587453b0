"""Seeded hostile-input generator and the property every batch must keep (used by test_fuzz.py and `make fuzz`).

A scenario is a directory of cards (good and bad, mixed) plus a JSON launch list and a CSV sheet with good
and bad items, plus whole sources that are broken. The property, checked on `toolpanel ingest --json` run
as a real subprocess under a memory and time bound: every good input is ingested, every bad one is named
by exactly one rejection, nothing else is rejected, no traceback, the process ends within its bounds.
"""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

MEMORY_BYTES = 1 << 30  # RLIMIT_AS of the subprocess: a blow-up dies instead of eating the machine
TIME_LIMIT = 60.0  # seconds: catches hangs, says nothing about speed
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
DESC = "A tool that does one useful thing for developers, described in plain words."


def _card(rng: random.Random, name: str, *, markdown: bool | None = None, **extra: str) -> tuple[str, str]:
    """(suffix, text) of a valid card."""
    fields = {"name": name, **extra}
    if rng.random() < 0.5:
        fields.setdefault("url", f"https://{name.lower().replace(' ', '')}.example.com/")
    if rng.random() < 0.3:
        fields.setdefault("launched", "2026-11-20")
    md = rng.random() < 0.6 if markdown is None else markdown
    head = "".join(f"{k}: {v}\n" for k, v in fields.items())
    return (".md", f"---\n{head}---\n{DESC}\n") if md else (".yaml", f"{head}description: {DESC}\n")


# Bad card classes: name -> writer(rng, directory, stem, elsewhere) that creates exactly one entry named stem+suffix
# and returns its file name. Each must give exactly one rejection naming that file.
def _write(d: Path, name: str, data: str | bytes) -> str:
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return name


def _yaml_value(value: str) -> str:
    return f"name: Bad\ndescription: {DESC}\nlaunched: {value}\n"


def _nested(rng: random.Random) -> str:
    depth = rng.choice([21, 50, 500, 20_000])
    return "[" * depth + "]" * depth


def _alias_bomb(rng: random.Random) -> str:
    levels = rng.randint(2, 9)
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    return "name: Bomb\ndescription: d\n" + "\n".join(lines) + f"\nlaunched: [*a{levels - 1}, *a{levels - 1}]\n"


def _as_mapping(rng: random.Random) -> str:
    name = rng.choice(["name", "url", "tagline", "pricing", "slug", "launched", "category", "entry", "description"])
    return ("" if name == "name" else "name: M\n") + ("" if name == "description" else f"description: {DESC}\n") \
        + f"{name}: {{a: 1, b: [2]}}\n"


def _deep_block(rng: random.Random) -> str:
    depth = rng.choice([21, 100, 400])
    return "name: Deep\ndescription: d\n" + "".join(" " * i + f"k{i}:\n" for i in range(depth)) + " " * depth + "x: 1\n"


BAD_CARDS = {
    "port_out_of_range": lambda r, d, s, o: _write(d, s + ".md", f"---\nname: P\nurl: https://example.com:"
                                                              f"{r.randint(65536, 999999)}/x\n---\n{DESC}\n"),
    "ipv6_unclosed": lambda r, d, s, o: _write(d, s + ".md", f"---\nname: V\nurl: https://[::1/x\n---\n{DESC}\n"),
    "url_with_space": lambda r, d, s, o: _write(d, s + ".md", f"---\nname: S\nurl: https://exa mple.com/a b\n---\n{DESC}\n"),
    "deep_flow": lambda r, d, s, o: _write(d, s + ".yaml", _yaml_value(_nested(r))),
    "deep_block": lambda r, d, s, o: _write(d, s + ".yaml", _deep_block(r)),
    "alias_bomb": lambda r, d, s, o: _write(d, s + ".yaml", _alias_bomb(r)),
    "duplicate_key": lambda r, d, s, o: _write(d, s + ".md", f"---\nname: One\nname: Two\n---\n{DESC}\n"),
    "python_tag": lambda r, d, s, o: _write(d, s + ".yaml", f"name: !!python/object/apply:os.system [ls]\n"
                                                            f"description: {DESC}\n"),
    "custom_tag": lambda r, d, s, o: _write(d, s + ".yaml", f"name: !secret x\ndescription: {DESC}\n"),
    "oversize": lambda r, d, s, o: _write(d, s + ".md", "---\nname: Big\n---\n" + "x" * r.randint(65_537, 400_000)),
    "huge_single_line": lambda r, d, s, o: _write(d, s + ".yaml", "name: Line\ndescription: "
                                                  + "word " * r.randint(1_700, 12_000) + "\n"),
    "nul_byte": lambda r, d, s, o: _write(d, s + ".md", f"---\nname: N\x00\n---\n{DESC}\n"),
    "control_char": lambda r, d, s, o: _write(d, s + ".yaml", f"name: C\x07\ndescription: {DESC}\n"),
    "binary_garbage": lambda r, d, s, o: _write(d, s + ".yaml", bytes(r.getrandbits(8) for _ in range(r.randint(1, 4000)))
                                                + b"\xff"),
    "invalid_utf8": lambda r, d, s, o: _write(d, s + ".md", b"---\nname: Caf\xe9\n---\n" + DESC.encode()),
    "empty_file": lambda r, d, s, o: _write(d, s + r.choice([".md", ".yaml"]), b""),
    "front_matter_unclosed": lambda r, d, s, o: _write(d, s + ".md", f"---\nname: Open\n{DESC}\n"),
    "non_string_keys": lambda r, d, s, o: _write(d, s + ".yaml", f"name: K\ndescription: {DESC}\n"
                                                 + r.choice(["1: a\n", "true: b\n", "null: c\n", "2026-01-01: d\n"])),
    "unhashable_key": lambda r, d, s, o: _write(d, s + ".yaml", f"name: K\ndescription: {DESC}\n? [a, b]\n: c\n"),
    "date_as_list": lambda r, d, s, o: _write(d, s + ".yaml", _yaml_value("[2026, 11, 20]")),
    "field_as_mapping": lambda r, d, s, o: _write(d, s + ".yaml", _as_mapping(r)),
    "not_a_mapping": lambda r, d, s, o: _write(d, s + ".yaml", r.choice(["- a\n- b\n", "just text\n", "42\n"])),
    "bom_crlf_broken": lambda r, d, s, o: _write(d, s + ".md", "\ufeff---\r\nname: 'unclosed\r\n---\r\n" + DESC),
    "directory_with_suffix": lambda r, d, s, o: (os.mkdir(d / (s + ".yaml")), s + ".yaml")[1],
    "fifo": lambda r, d, s, o: (os.mkfifo(d / (s + ".md")), s + ".md")[1],
    "symlink_loop": lambda r, d, s, o: (os.symlink(s + ".md", d / (s + ".md")), s + ".md")[1],
    "dangling_symlink": lambda r, d, s, o: (os.symlink(f"missing-{s}.md", d / (s + ".md")), s + ".md")[1],
    "symlink_outside": lambda r, d, s, o: (_write(o, s + ".md", f"---\nname: Outside {s}\n---\n{DESC}\n"),
                                           os.symlink(o / (s + ".md"), d / (s + ".md")), s + ".md")[2],
}
if not IS_ROOT:  # root reads every file, so the class cannot happen there
    BAD_CARDS["permission_denied"] = lambda r, d, s, o: (_write(d, s + ".md", f"---\nname: P\n---\n{DESC}\n"),
                                                         os.chmod(d / (s + ".md"), 0), s + ".md")[2]

# Bad feed/list items: name -> the item as a JSON object (None: not an object at all).
BAD_ITEMS = {
    "item_port": lambda r: {"name": "Port", "url": "https://example.com:99999/x", "description": DESC},
    "item_ipv6": lambda r: {"name": "Six", "url": "https://[::1/x", "description": DESC},
    "item_space": lambda r: {"name": "Space", "url": "https://exa mple.com/x", "description": DESC},
    "item_no_title": lambda r: {"url": "https://notitle.example.com", "description": DESC},
    "item_title_mapping": lambda r: {"name": {"a": [1, {"b": 2}]}, "url": "https://map.example.com", "description": DESC},
    "item_nested_date": lambda r: {"name": "Date", "url": "https://date.example.com", "description": DESC,
                                   "launched": json.loads("[" * 200 + "]" * 200)},
    "item_huge_description": lambda r: {"name": "Huge", "url": "https://huge.example.com", "description": "x " * 5000},
    "item_not_object": lambda r: r.choice([None, 42, "text", [1, 2]]),
    "item_javascript": lambda r: {"name": "Js", "url": "javascript:alert(1)", "description": DESC},
}

# Whole sources that cannot be read: name -> (suffix, bytes).
BAD_SOURCES = {
    "json_truncated": lambda r: (".json", b'[{"name": "A", "url": "https://a.example.com"'),
    "json_nested": lambda r: (".json", b"[" * 100_000 + b"]" * 100_000),
    "json_binary": lambda r: (".json", bytes(r.getrandbits(8) for _ in range(500)) + b"\xff"),
    "xml_broken": lambda r: (".xml", b'<?xml version="1.0"?><rss version="2.0"><channel><item><title>A</ti'),
    "csv_no_name": lambda r: (".csv", b"url,description\nhttps://a.example.com,d\n"),
}


@dataclass
class Scenario:
    root: Path
    args: list[str] = field(default_factory=list)
    good: dict[str, str] = field(default_factory=dict)  # slug -> where it came from
    bad: dict[str, str] = field(default_factory=dict)  # rejection key (item or source) -> class
    counts: Counter = field(default_factory=Counter)  # class -> cases


def build(root: Path, seed: int, cases: int) -> Scenario:
    """`cases` inputs (about a third good) in cards, a launch list, a sheet and broken sources."""
    rng = random.Random(seed)
    cards, outside = root / "cards", root / "elsewhere"
    cards.mkdir(parents=True)
    outside.mkdir()
    sc = Scenario(root)
    items: list[tuple[object, str | None]] = []  # (JSON item, bad class or None)
    n_sources = 0
    for i in range(cases):
        roll = rng.random()
        if roll < 0.3:  # a good card
            name = f"Good Tool {seed}-{i}"
            suffix, text = _card(rng, name)
            if rng.random() < 0.2:
                text = "\ufeff" + text.replace("\n", "\r\n")  # BOM + CRLF: fine
            if rng.random() < 0.2:
                text = text.replace(name, f"Good\u202e Tool\u200b {seed}-{i}", 1)  # bidi/zero-width: stripped
            _write(cards, f"good-{i}{suffix}", text)
            sc.good[f"good-tool-{seed}-{i}".lower()] = f"card good-{i}{suffix}"
            sc.counts["good_card"] += 1
        elif roll < 0.75:
            cls = rng.choice(sorted(BAD_CARDS))
            name = BAD_CARDS[cls](rng, cards, f"bad-{i}", outside)
            sc.bad[str(cards / name)] = cls
            sc.counts[cls] += 1
        elif roll < 0.85:
            items.append(({"name": f"Listed Tool {seed}-{i}", "url": f"https://listed-{i}.example.com",
                           "description": DESC}, None))
            sc.counts["good_item"] += 1
        elif roll < 0.95:
            cls = rng.choice(sorted(BAD_ITEMS))
            items.append((BAD_ITEMS[cls](rng), cls))
            sc.counts[cls] += 1
        else:
            cls = rng.choice(sorted(BAD_SOURCES))
            suffix, data = BAD_SOURCES[cls](rng)
            path = root / f"broken-{n_sources}{suffix}"
            n_sources += 1
            path.write_bytes(data)
            sc.args.append(str(path))
            sc.bad[str(path)] = cls
            sc.counts[cls] += 1
    sc.args.insert(0, str(cards))
    if items:
        listing = root / "launches.json"
        listing.write_text(json.dumps([it for it, _ in items]), encoding="utf-8")
        sc.args.append(str(listing))
        for n, (it, cls) in enumerate(items, start=1):
            if cls is None:
                sc.good[f"listed-tool-{it['name'].rsplit(' ', 1)[1]}"] = f"{listing}: item {n}"
            else:
                sc.bad[f"{listing}: item {n}"] = cls
    return sc


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))


def run_ingest(sc: Scenario, env: dict | None = None) -> subprocess.CompletedProcess:
    """The real `toolpanel ingest --json` under RLIMIT_AS and a wall-clock bound."""
    exe = Path(sys.executable).parent / "toolpanel"
    full_env = dict(os.environ, **(env or {}), COLUMNS="200", TOOLPANEL_HOME=str(sc.root / "home"))
    return subprocess.run([str(exe), "ingest", *sc.args, "--json"], capture_output=True, text=True, env=full_env,
                          timeout=TIME_LIMIT, cwd=sc.root, preexec_fn=_limits)


def _key(rej: dict) -> str:
    """What a rejection names: the card file, 'list: item N', or the whole source."""
    if rej.get("card"):
        return rej["item"]
    item = (rej.get("item") or "").split(' "', 1)[0]  # 'item 3 "Title"' -> 'item 3'
    return f"{rej['source']}: {item}" if item else rej["source"]


def check(sc: Scenario, proc: subprocess.CompletedProcess) -> list[str]:
    """Every way the property failed (empty: it held)."""
    failures = []
    if "Traceback" in proc.stderr or proc.returncode not in (0, 1):
        return [f"exit {proc.returncode}: {proc.stderr[-2000:]}"]
    report = json.loads(proc.stdout)
    ingested = {i["slug"] for i in report["items"] if i["status"] == "new"}
    for slug, where in sc.good.items():
        if slug not in ingested:
            failures.append(f"good input not ingested: {where} ({slug})")
    named = Counter(_key(r) for r in report["rejections"])
    for key, cls in sc.bad.items():
        if named[key] != 1:
            failures.append(f"{cls}: {key} named {named[key]} times")
    for key, n in named.items():
        if key not in sc.bad:
            failures.append(f"unexpected rejection of {key}: {n}")
    too_long = [r["message"] for r in report["rejections"] if len(r["message"]) > 500]
    failures += [f"message over 500 characters: {m[:80]}…" for m in too_long]
    if ingested - set(sc.good):
        failures.append(f"ingested what was bad: {sorted(ingested - set(sc.good))}")
    return failures
