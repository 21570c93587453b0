"""Tool cards: YAML files, or Markdown with YAML front matter whose body is the description."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import yaml

from toolpanel.models import Tool
from toolpanel.text import DESCRIPTION_CAP, FIELD_CAP, SLUG_RE, clean_line, clean_text, slugify

CARD_SUFFIXES = {".md", ".markdown", ".yaml", ".yml"}
FIELDS = ("name", "slug", "url", "category", "tagline", "pricing", "entry", "launched", "description")


class _CardLoader(yaml.SafeLoader):
    """SafeLoader, except an impossible date (2026-13-01) stays text instead of raising ValueError."""


def _timestamp_or_text(loader: yaml.SafeLoader, node: yaml.Node):
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return loader.construct_scalar(node)


_CardLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_or_text)


@dataclass(frozen=True)
class CardError:
    """One bad card: where, which field, what is wrong, how to fix it."""

    path: str
    field: str | None
    problem: str
    fix: str

    def __str__(self) -> str:
        if self.field and ", " in self.field:
            where = f"{self.path}: fields " + ", ".join(f"'{f}'" for f in self.field.split(", "))
        else:
            where = f"{self.path}: field '{self.field}'" if self.field else self.path
        return f"{where}: {self.problem} — {self.fix}"


class CardInvalid(Exception):
    def __init__(self, error: CardError):
        super().__init__(str(error))
        self.error = error


def find_cards(paths: list[str | Path]) -> tuple[list[Path], list[CardError]]:
    """Expand files and directories into card files (sorted, deduplicated)."""
    files: list[Path] = []
    errors: list[CardError] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in CARD_SUFFIXES))
        elif p.is_file():
            files.append(p)
        else:
            errors.append(CardError(str(p), None, "no such file or directory", "check the path"))
    seen: set[Path] = set()
    unique = []
    for f in files:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique, errors


def load_cards(paths: list[str | Path]) -> tuple[list[Tool], list[CardError]]:
    """Load every card; a bad card yields one CardError and never stops the others."""
    files, errors = find_cards(paths)
    tools: list[Tool] = []
    slugs: dict[str, str] = {}
    for f in files:
        try:
            tool = load_card(f)
        except CardInvalid as exc:
            errors.append(exc.error)
            continue
        if tool.slug in slugs:
            errors.append(CardError(str(f), "slug", f"slug '{tool.slug}' is also used by {slugs[tool.slug]}",
                                    "give one of the cards a distinct `slug:`"))
            continue
        slugs[tool.slug] = str(f)
        tools.append(tool)
    return tools, errors


def _split_front_matter(text: str, path: str) -> tuple[str, str]:
    if not text.startswith("---"):
        raise CardInvalid(CardError(path, None, "Markdown card has no YAML front matter",
                                    "start the file with a '---' line, the fields, then another '---' line"))
    lines = text.split("\n")
    for i in range(1, len(lines)):
        if lines[i].strip() == "---":
            return "\n".join(lines[1:i]), "\n".join(lines[i + 1:])
    raise CardInvalid(CardError(path, None, "front matter is not closed",
                                "add a line with '---' after the last field"))


def load_card(path: Path) -> Tool:
    p = str(path)
    try:
        raw = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise CardInvalid(CardError(p, None, "file is not UTF-8 text", "save the card as UTF-8")) from None
    raw = raw.lstrip("\ufeff").replace("\r\n", "\n")
    body = ""
    if path.suffix.lower() in (".md", ".markdown"):
        head, body = _split_front_matter(raw, p)
    else:
        head = raw
    try:
        data = yaml.load(head, Loader=_CardLoader) if head.strip() else {}
    except yaml.YAMLError as exc:
        # The context mark points at where the bad construct starts (e.g. the unclosed quote).
        mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
        offset = 1 if path.suffix.lower() in (".md", ".markdown") else 0  # the opening '---' line
        where = f" at line {mark.line + 1 + offset}" if mark else ""
        problem = " ".join(x for x in (getattr(exc, "context", None), getattr(exc, "problem", None)) if x)
        lines = head.split("\n")
        key = re.match(r"\s*([A-Za-z_][\w-]*)\s*:", lines[mark.line]) if mark and mark.line < len(lines) else None
        raise CardInvalid(CardError(p, key.group(1) if key else None,
                                    f"YAML syntax error{where}: {problem or 'invalid YAML'}",
                                    "fix the YAML (close quotes; quote values that contain ':' or '#')")) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise CardInvalid(CardError(p, None, f"expected a mapping of fields, got a {type(data).__name__}",
                                    "write the card as 'field: value' lines (name, description, ...)"))
    return card_to_tool(data, body, p)


def _str_field(data: dict, field: str, path: str) -> str | None:
    value = data.get(field)
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        raise CardInvalid(CardError(path, field, f"expected text, got a {type(value).__name__}",
                                    f"write `{field}:` as a single line of text"))
    text = clean_line(str(value))
    if len(text) > FIELD_CAP:
        raise CardInvalid(CardError(path, field, f"is {len(text)} characters, the cap is {FIELD_CAP}",
                                    f"shorten `{field}:`"))
    return text or None


def card_to_tool(data: dict, body: str, path: str, source: str = "card") -> Tool:
    """Validate a card's fields into a Tool (pure: no file access)."""
    unknown = sorted(str(k) for k in data if k not in FIELDS)
    if unknown:
        hint = {"price": "pricing", "launch_date": "launched", "date": "launched", "website": "url",
                "best_for": "tagline", "summary": "description", "title": "name"}
        fixes = [f"'{k}' → '{hint[k]}'" for k in unknown if k in hint]
        others = [f"'{k}'" for k in unknown if k not in hint]
        fix = "; ".join(([f"rename {', '.join(fixes)}"] if fixes else [])
                        + ([f"remove {', '.join(others)} (allowed fields are {', '.join(FIELDS)})"] if others else []))
        raise CardInvalid(CardError(path, ", ".join(unknown), "unknown field" + ("s" if len(unknown) > 1 else ""), fix))

    name = _str_field(data, "name", path)
    if not name:
        raise CardInvalid(CardError(path, "name", "is missing", "add `name: <the tool's name>`"))

    explicit_slug = _str_field(data, "slug", path)
    slug = explicit_slug or slugify(name)
    if not SLUG_RE.match(slug):
        problem = f"'{slug}' is not a valid slug" if explicit_slug else f"cannot be derived from the name '{name}'"
        raise CardInvalid(CardError(path, "slug", problem,
                                    "use lowercase letters, digits and single hyphens, e.g. `slug: my-tool`"))

    url = _str_field(data, "url", path)
    if url:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise CardInvalid(CardError(path, "url", f"'{url}' is not an http(s) URL",
                                        "use a full address starting with https://"))

    launched = data.get("launched")
    if launched is not None and not isinstance(launched, dt.date):
        try:
            launched = dt.date.fromisoformat(str(launched).strip())
        except ValueError:
            raise CardInvalid(CardError(path, "launched", f"'{launched}' is not a date",
                                        "write it as YYYY-MM-DD, e.g. `launched: 2026-11-20`")) from None
    if isinstance(launched, dt.datetime):
        launched = launched.date()

    desc_field = data.get("description")
    if desc_field is not None and not isinstance(desc_field, str):
        raise CardInvalid(CardError(path, "description", f"expected text, got a {type(desc_field).__name__}",
                                    "write the description as text (use `description: |` for several lines)"))
    if desc_field and body.strip():
        raise CardInvalid(CardError(path, "description", "given both in the front matter and as the Markdown body",
                                    "keep one: delete `description:` or empty the body"))
    description = clean_text(desc_field or body or "")
    if not description:
        raise CardInvalid(CardError(path, "description", "is missing",
                                    "add `description:` or write the description below the front matter"))
    if len(description) > DESCRIPTION_CAP:
        raise CardInvalid(CardError(path, "description",
                                    f"is {len(description):,} characters, over the cap of {DESCRIPTION_CAP:,}",
                                    f"trim it to at most {DESCRIPTION_CAP:,} characters"))

    return Tool(
        name=name, slug=slug, url=url,
        category=_str_field(data, "category", path), tagline=_str_field(data, "tagline", path),
        pricing=_str_field(data, "pricing", path), entry=_str_field(data, "entry", path),
        launched=launched, description=description, source=source,
    )
