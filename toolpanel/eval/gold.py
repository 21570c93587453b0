"""Editor gold for evaluating the panel: one YAML file per tool under eval/gold/.

    card: ../../examples/tools/smolvlm2-turbo.md   # a card file relative to this file, or the fields inline
    verdict: ship                                  # the editor's panel verdict: ship | skip
    why: Runs on the phone, Apache 2.0; the benchmark claim is the only soft spot.
    builder: {verdict: ship, score: 85}            # optional, per persona id
    creator: abstain

Unknown keys are errors that name the fix, like cards; one bad file never stops the others.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict

from toolpanel.ingest.cardyaml import CardError
from toolpanel.ingest.cards import card_to_tool, load_card
from toolpanel.errors import ToolpanelError
from toolpanel.models import Tool

GOLD_SUFFIXES = (".yaml", ".yml")
TOP_KEYS = ("card", "verdict", "why")
PERSONA_KEYS = ("verdict", "score")


class PersonaGold(BaseModel):
    """What the editor expects of one persona: an abstention, or a verdict (and maybe a score)."""

    model_config = ConfigDict(frozen=True)
    abstain: bool = False
    verdict: Literal["ship", "skip"] | None = None
    score: int | None = None


class GoldItem(BaseModel):
    model_config = ConfigDict(frozen=True)
    path: str
    tool: Tool
    verdict: Literal["ship", "skip"]
    why: str
    personas: dict[str, PersonaGold] = {}


class GoldError(ToolpanelError):
    """A gold file that cannot be used (the rest of the gold set still runs)."""


def _err(path: str, field: str | None, problem: str, fix: str) -> GoldError:
    return GoldError(problem, fix, file=path, field=field)


def find_gold(paths: list[str | Path]) -> tuple[list[Path], list[GoldError]]:
    files: list[Path] = []
    errors: list[GoldError] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files += sorted(f for f in p.iterdir() if f.suffix.lower() in GOLD_SUFFIXES and f.is_file())
        elif p.is_file():
            files.append(p)
        else:
            errors.append(_err(str(p), None, "no such file or directory",
                               "name a gold file (.yaml) or a directory of them, e.g. eval/gold/"))
    return files, errors


def load_gold(paths: list[str | Path], persona_ids: list[str]) -> tuple[list[GoldItem], list[GoldError]]:
    """Every gold item that loads, and one error per file that does not."""
    files, errors = find_gold(paths)
    items: list[GoldItem] = []
    seen: dict[str, str] = {}
    for f in files:
        try:
            item = load_gold_file(f, persona_ids)
        except GoldError as exc:
            errors.append(exc)
            continue
        if item.tool.slug in seen:
            errors.append(_err(str(f), "card", f"tool '{item.tool.slug}' is already gold in {seen[item.tool.slug]}",
                               "keep one gold file per tool"))
            continue
        seen[item.tool.slug] = str(f)
        items.append(item)
    return items, errors


def suggest(key: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1)
    return f"rename '{key}' → '{close[0]}'" if close else f"remove '{key}'"


def load_gold_file(path: Path, persona_ids: list[str]) -> GoldItem:
    p = str(path)
    try:
        data = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise _err(p, None, f"cannot be read ({exc.__class__.__name__})", "save the gold file as UTF-8 text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise _err(p, None, f"YAML syntax error{where}", "fix the YAML (close quotes; quote values with ':')") from None
    if not isinstance(data, dict):
        raise _err(p, None, "expected a mapping (card, verdict, why, persona ids)",
                   "write the gold file as 'key: value' lines: card, verdict, why")
    allowed = list(TOP_KEYS) + persona_ids
    unknown = [str(k) for k in data if k not in allowed]
    if unknown:
        raise _err(p, ", ".join(unknown), "unknown key" + ("s" if len(unknown) > 1 else ""),
                   "; ".join(suggest(k, allowed) for k in unknown) + f" (allowed: {', '.join(allowed)})")
    for key in TOP_KEYS:
        if data.get(key) in (None, ""):
            fix = {"card": "add `card:` with a card file path (relative to this file) or the card's fields",
                   "verdict": "add `verdict: ship` or `verdict: skip` (the editor's panel verdict)",
                   "why": "add `why:` with one line saying why the editor expects that verdict"}[key]
            raise _err(p, key, "is missing", fix)
    if data["verdict"] not in ("ship", "skip"):
        raise _err(p, "verdict", f"'{data['verdict']}' is not a verdict", "use `verdict: ship` or `verdict: skip`")
    if not isinstance(data["why"], str) or "\n" in data["why"].strip():
        raise _err(p, "why", "must be one line of text", "write `why:` as a single line")
    tool = _card(path, data["card"])
    personas = {pid: _persona(p, pid, data[pid]) for pid in persona_ids if pid in data}
    return GoldItem(path=p, tool=tool, verdict=data["verdict"], why=data["why"].strip(), personas=personas)


def _card(gold_path: Path, card: object) -> Tool:
    p = str(gold_path)
    try:
        if isinstance(card, str):
            target = (gold_path.parent / card).resolve()
            if not target.is_file():
                raise _err(p, "card", f"'{card}' is not a file", "give a card path relative to the gold file, "
                           "or the card's fields inline")
            return load_card(target)
        if isinstance(card, dict):
            return card_to_tool(card, "", f"{p} card")
    except CardError as e:
        raise _err(e.path, f"card.{e.field}" if e.field and e.path.endswith(" card") else e.field,
                   e.problem, e.fix) from None
    raise _err(p, "card", f"expected a path or the card's fields, got a {type(card).__name__}",
               "write `card: path/to/card.md` or `card:` followed by indented fields (name, description, ...)")


def _persona(path: str, pid: str, value: object) -> PersonaGold:
    if value == "abstain":
        return PersonaGold(abstain=True)
    if not isinstance(value, dict):
        raise _err(path, pid, f"expected 'abstain' or {{verdict, score}}, got {value!r}"[:120],
                   f"write `{pid}: abstain` or `{pid}: {{verdict: ship, score: 80}}`")
    unknown = [str(k) for k in value if k not in PERSONA_KEYS]
    if unknown:
        raise _err(path, f"{pid}.{unknown[0]}", "unknown key",
                   suggest(unknown[0], list(PERSONA_KEYS)) + " (allowed: verdict, score)")
    if value.get("verdict") not in ("ship", "skip"):
        raise _err(path, f"{pid}.verdict", f"'{value.get('verdict')}' is not a verdict",
                   f"write `{pid}: {{verdict: ship}}` or skip (or `{pid}: abstain`)")
    score = value.get("score")
    if score is not None and (isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 100):
        raise _err(path, f"{pid}.score", f"{score!r} is not an integer 0-100", "write the expected score 0-100")
    return PersonaGold(verdict=value["verdict"], score=score)
