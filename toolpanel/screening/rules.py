"""Screening: vendor text addressed to the review panel, found before any model call.

Pure and deterministic: rules from an editor-readable data file (screening/rules.yaml) over every field
the panel reads, URL path and query included. Each field is read as its normalised views
(toolpanel/screening/normalise.py: invisible characters, look-alike letters, encodings, leetspeak; plus the parts of
the description readers do not see); phrase rules match the main view, rules by meaning
(toolpanel/screening/meaning.py) every view. A finding's span is always a span of the ORIGINAL field text.
`screen(tool)` lists findings (field, span, rule, severity); `neutralise(tool, findings)` is a copy with
those spans removed, used only as evidence (a differential review) and for what readers see; it is never
a tool snapshot. Screening decides what to double-check; the differential review decides what is held.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from toolpanel.sections import REPO_ROOT
from toolpanel.screening.meaning import addressed, load_meaning, sentences, uncovered
from toolpanel.models import Tool
from toolpanel.screening.normalise import Builder, View, hidden_views, normalise

from toolpanel.models import Finding  # noqa: E402  (the shared contract)
from toolpanel.errors import ConfigError


RULES_PATH = REPO_ROOT / "screening" / "rules.yaml"
# Every vendor field the panel reads (enriched page text is part of `description`); of `url`, the path and query.
FIELDS = ("name", "tagline", "category", "pricing", "entry", "url", "description")
SHORT = frozenset({"tagline", "category", "pricing", "entry", "url"})  # meaning rules are stricter here
SCOPES = ("sentence", "match", "line", "block")
CLASSES = ("score_instruction", "abstain_instruction", "ignore_previous", "role_marker", "delimiter", "take_json",
           "hidden_comment", "heading", "authority", "address_ai")
_SENTENCE_END = re.compile(r"[.!?。！？।؟]+[\"'”’)\]]*(\s|$)|\n")
_QUOTES = "\"“”«»「」'‘’`"


@dataclass(frozen=True)
class Rule:
    id: str
    cls: str
    lang: str
    pattern: re.Pattern
    scope: str = "sentence"
    severity: str = "hold"


class RulesError(ConfigError):
    """The rules file is unusable (names the rule and what to fix): exit 2."""


@functools.lru_cache(maxsize=8)
def load_rules(path: Path = RULES_PATH) -> tuple[tuple[Rule, ...], re.Pattern | None]:
    """The rules and the 'describing a quoted example' cue, compiled once per file."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    rules, seen = [], set()
    for i, raw in enumerate(data.get("rules") or []):
        rid = raw.get("id") or f"#{i + 1}"
        try:
            rx = re.compile(raw["pattern"], re.IGNORECASE | re.MULTILINE)
        except (KeyError, re.error) as exc:
            raise RulesError(f"{path}: rule '{rid}': bad or missing pattern ({exc}) — fix the regular expression")
        scope, severity = raw.get("scope", "sentence"), raw.get("severity", "hold")
        if rid in seen or scope not in SCOPES or severity not in ("hold", "warn") or raw.get("class") not in CLASSES:
            raise RulesError(f"{path}: rule '{rid}': duplicate id, or unknown scope/severity/class — scope is one of "
                             f"{', '.join(SCOPES)}; severity hold|warn; class one of {', '.join(CLASSES)}")
        seen.add(rid)
        rules.append(Rule(rid, raw["class"], raw.get("lang", "any"), rx, scope, severity))
    cues = data.get("quoted_cues")
    return tuple(rules), re.compile(cues, re.IGNORECASE) if cues else None


def _sentence(text: str, start: int, end: int) -> tuple[int, int]:
    s = 0
    for m in _SENTENCE_END.finditer(text, 0, start):
        s = m.end()
    m = _SENTENCE_END.search(text, end)
    return s, (m.end() if m else len(text))


def _extent(text: str, m: re.Match, scope: str) -> tuple[int, int]:
    if scope == "match":
        return m.start(), m.end()
    if scope == "line":
        s = text.rfind("\n", 0, m.start()) + 1
        e = text.find("\n", m.end())
        return s, (len(text) if e < 0 else e)
    if scope == "block":  # a heading and the paragraph under it
        s = text.rfind("\n", 0, m.start()) + 1
        e = text.find("\n\n", m.end())
        return s, (len(text) if e < 0 else e)
    return _sentence(text, m.start(), m.end())


def _quoted_example(text: str, m: re.Match, cues: re.Pattern | None) -> bool:
    """'blocks prompts like "ignore previous instructions"': the match is quoted and described."""
    if cues is None:
        return False
    s, e = _sentence(text, m.start(), m.end())
    before, after = text[s:m.start()], text[m.end():e]
    return any(q in before for q in _QUOTES) and any(q in after for q in _QUOTES) and bool(cues.search(text[s:e]))


def url_view(url: str) -> View | None:
    """The path, query and fragment of a URL as words: each segment normalised (percent-encoding, base64),
    separators read as spaces."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    head = len(parts.scheme) + (3 if url[len(parts.scheme):].startswith("://") else 1 if parts.scheme else 0)
    head += len(parts.netloc)
    out = Builder()
    for m in re.finditer(r"[^/?&=#;]+", url[head:]):
        seg = normalise(m.group(0), head + m.start())
        out.copy(View(re.sub(r"[_\-+.~,]", " ", seg.text), seg.starts, seg.ends), 0, len(seg.text))
        out.put(" ", head + m.end(), head + m.end())
    view = out.view()
    return view if view.text.strip() else None


def url_head(url: str) -> str | None:
    """scheme://host of a URL, without the path and query that can carry text."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def _views(field: str, text: str) -> list[tuple[View, bool]]:
    """(view, strict) pairs: the main view first; strict for short fields and text hidden from readers."""
    if field == "url":
        view = url_view(text)
        return [(view, True)] if view is not None else []
    main = normalise(text)
    return [(main, field in SHORT), *((h, True) for h in hidden_views(main))]


def screen_text(field: str, text: str | None, path: Path = RULES_PATH) -> list[Finding]:
    """Findings in one field (`url`: its path and query)."""
    if not text:
        return []
    rules, cues = load_rules(path)
    meaning = load_meaning(Path(path))
    found: dict[tuple[str, str], Finding] = {}

    def add(rule: str, view: View, a: int, b: int, severity: str) -> None:
        s, e = view.source(a, b)
        span = text[s:e].strip()
        if span:
            found.setdefault((rule, span), Finding(field=field, span=span, rule=rule, severity=severity))

    views = _views(field, text)
    for view, _ in views[:1]:
        for rule in rules:
            for m in rule.pattern.finditer(view.text):
                s, e = _extent(view.text, m, rule.scope)
                hold = rule.severity == "hold" and not _quoted_example(view.text, m, cues)
                add(rule.id, view, s, e, "hold" if hold else "warn")
    if meaning is None:
        return list(found.values())
    for k, (view, strict) in enumerate(views):
        for a, b in sentences(view.text):
            sentence = view.text[a:b]
            lang = addressed(sentence, meaning, strict=strict)
            if lang:
                add(f"meaning.{lang}", view, a, b, "warn")
            elif k == 0 and field != "url":
                code = uncovered(sentence, meaning)
                if code:
                    add(f"lang.uncovered:{code}", view, a, b, "warn")
    return list(found.values())


def screen(tool: Tool, path: Path = RULES_PATH) -> list[Finding]:
    """Every span of every vendor field that is addressed to the panel (deterministic, no I/O but the rules file)."""
    return [f for name in FIELDS for f in screen_text(name, getattr(tool, name), path)]


def _remove(text: str, spans: list[str]) -> str:
    for span in sorted(set(spans), key=len, reverse=True):
        text = text.replace(span, " ")
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def neutralise(tool: Tool, findings: list[Finding]) -> Tool:
    """A copy of `tool` with the flagged spans removed (evidence and display only; never stored as a snapshot)."""
    update: dict[str, str | None] = {}
    for name in FIELDS:
        spans = [f.span for f in findings if f.field == name and f.span]
        if not spans:
            continue
        if name == "url":  # the path and query carried the text: keep scheme and host only
            update["url"] = url_head(tool.url or "")
            continue
        text = _remove(getattr(tool, name) or "", spans)
        if name == "description":
            text = text or "(no description left once the text addressed to the panel was removed)"
        elif name != "name":
            text = " ".join(text.split()) or None
        else:
            text = " ".join(text.split()) or tool.slug
        update[name] = text
    return tool.model_copy(update=update)


def screening_findings(findings) -> list[Finding]:
    """The findings that came from screening (not from differential review or take checks)."""
    return [f for f in findings if not f.rule.startswith(("take.", "steered"))]
