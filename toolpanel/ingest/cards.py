"""Tool cards: YAML files, or Markdown with YAML front matter whose body is the description.

Reading is total: every file or path yields a Tool or exactly one CardError, with the limits of
`config.Limits` applied before anything is parsed (docs/inputs.md).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from toolpanel.ingest.cardfiles import find_cards, special_kind
from toolpanel.ingest.cardyaml import CardError, load_yaml
from toolpanel.sections import Limits
from toolpanel.errors import quote
from toolpanel.models import Tool
from toolpanel.text import DESCRIPTION_CAP, FIELD_CAP, SLUG_RE, clean_line, clean_text, slugify


FIELDS = ("name", "slug", "url", "category", "tagline", "pricing", "entry", "launched", "description")


def load_cards(paths: list[str | Path], limits: Limits | None = None) -> tuple[list[Tool], list[CardError]]:
    """Load every card; a bad card yields one CardError and never stops the others."""
    limits = limits or Limits()
    tools: list[Tool] = []
    errors: list[CardError] = []
    slugs: dict[str, str] = {}
    for f, got in find_cards(paths):
        if isinstance(got, CardError):
            errors.append(got)
            continue
        try:
            tool = load_card(f, limits)
        except CardError as exc:
            errors.append(exc)
            continue
        except Exception as exc:  # totality: whatever else a parser raises is this card's rejection, not the batch's
            errors.append(CardError(f"could not be read ({exc.__class__.__name__})",
                                    "check that the file is a card (see docs/inputs.md)", file=str(f)))
            continue
        if tool.slug in slugs:
            errors.append(CardError(f"slug '{tool.slug}' is also used by {slugs[tool.slug]}",
                                    "give one of the cards a distinct `slug:`", file=str(f), field="slug"))
            continue
        slugs[tool.slug] = str(f)
        tools.append(tool)
    return tools, errors


def read_card_bytes(path: Path, cap: int) -> bytes:
    """At most `cap` bytes of a regular file, refused unread when larger; never blocks on a FIFO."""
    p = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except PermissionError:
        raise CardError("cannot be read (permission denied)",
                        "make the file readable (chmod a+r), or move it out of the card directory", file=p) from None
    except OSError as exc:
        raise CardError(f"cannot be read ({exc.strerror or exc.__class__.__name__})", "check the path",
                        file=p) from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        kind = special_kind(st.st_mode)
        if kind:
            raise CardError(f"is {kind}, not a card file", "only regular files are read", file=p)
        too_big = CardError(f"is {st.st_size:,} bytes, over the cap of {cap:,} bytes",
                            "a card is a few kilobytes: trim it (descriptions are capped at 8,000 characters), or "
                            "raise card_bytes under [limits] in toolpanel.toml", file=p)
        if st.st_size > cap:
            raise too_big
        data = fh.read(cap + 1)
    if len(data) > cap:
        raise too_big
    return data


def _split_front_matter(text: str, path: str) -> tuple[str, str]:
    if not text.startswith("---"):
        raise CardError("Markdown card has no YAML front matter",
                        "start the file with a '---' line, the fields, then another '---' line", file=path)
    lines = text.split("\n")
    for i in range(1, len(lines)):
        if lines[i].strip() == "---":
            return "\n".join(lines[1:i]), "\n".join(lines[i + 1:])
    raise CardError("front matter is not closed", "add a line with '---' after the last field", file=path)


def load_card(path: Path, limits: Limits | None = None) -> Tool:
    limits = limits or Limits()
    p = str(path)
    try:
        raw = read_card_bytes(path, limits.card_bytes).decode("utf-8")
    except UnicodeDecodeError:
        raise CardError("file is not UTF-8 text", "save the card as UTF-8", file=p) from None
    raw = raw.lstrip("\ufeff").replace("\r\n", "\n")
    body = ""
    markdown = path.suffix.lower() in (".md", ".markdown")
    if markdown:
        head, body = _split_front_matter(raw, p)
    else:
        head = raw
    data = load_yaml(head, p, max_depth=limits.yaml_depth, line_offset=1 if markdown else 0) if head.strip() else {}
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise CardError(f"expected a mapping of fields, got a {type(data).__name__}",
                        "write the card as 'field: value' lines (name, description, ...)", file=p)
    return card_to_tool(data, body, p)


_SCALARS = (str, int, float, bool, dt.date)


def _str_field(data: dict, field: str, path: str) -> str | None:
    value = data.get(field)
    if value is None:
        return None
    if not isinstance(value, _SCALARS):
        raise CardError(f"expected text, got a {type(value).__name__}", f"write `{field}:` as a single line of text",
                        file=path, field=field)
    text = clean_line(str(value))
    if len(text) > FIELD_CAP:
        raise CardError(f"is {len(text)} characters, the cap is {FIELD_CAP}", f"shorten `{field}:`",
                        file=path, field=field)
    return text or None


def card_to_tool(data: dict, body: str, path: str, source: str = "card") -> Tool:
    """Validate a card's fields into a Tool (pure: no file access); raises CardError."""
    from toolpanel.ingest.urls import BadURL, check_url  # imported here: toolpanel.ingest imports this module

    unknown = sorted(str(k) for k in data if k not in FIELDS)
    if unknown:
        hint = {"price": "pricing", "launch_date": "launched", "date": "launched", "website": "url",
                "best_for": "tagline", "summary": "description", "title": "name"}
        fixes = [f"'{k}' → '{hint[k]}'" for k in unknown if k in hint]
        others = [quote(k, 40) for k in unknown if k not in hint]
        fix = "; ".join(([f"rename {', '.join(fixes)}"] if fixes else [])
                        + ([f"remove {', '.join(others)} (allowed fields are {', '.join(FIELDS)})"] if others else []))
        raise CardError("unknown field" + ("s" if len(unknown) > 1 else ""), fix, file=path, field=", ".join(unknown))

    name = _str_field(data, "name", path)
    if not name:
        raise CardError("is missing", "add `name: <the tool's name>`", file=path, field="name")

    explicit_slug = _str_field(data, "slug", path)
    slug = explicit_slug or slugify(name)
    if not SLUG_RE.match(slug):
        problem = f"{quote(slug)} is not a valid slug" if explicit_slug else f"cannot be derived from the name {quote(name)}"
        raise CardError(problem, "use lowercase letters, digits and single hyphens, e.g. `slug: my-tool`",
                        file=path, field="slug")

    url = _str_field(data, "url", path)
    if url:
        try:
            url = check_url(url)
        except BadURL as exc:
            raise CardError(exc.problem, exc.fix, file=path, field="url") from None

    launched = data.get("launched")
    if launched is not None and not isinstance(launched, dt.date):
        if not isinstance(launched, _SCALARS):
            raise CardError(f"expected a date, got a {type(launched).__name__}",
                            "write it as YYYY-MM-DD, e.g. `launched: 2026-11-20`", file=path, field="launched")
        try:
            launched = dt.date.fromisoformat(str(launched).strip())
        except ValueError:
            raise CardError(f"{quote(launched)} is not a date", "write it as YYYY-MM-DD, e.g. `launched: 2026-11-20`",
                            file=path, field="launched") from None
    if isinstance(launched, dt.datetime):
        launched = launched.date()

    desc_field = data.get("description")
    if desc_field is not None and not isinstance(desc_field, str):
        raise CardError(f"expected text, got a {type(desc_field).__name__}",
                        "write the description as text (use `description: |` for several lines)",
                        file=path, field="description")
    if desc_field and body.strip():
        raise CardError("given both in the front matter and as the Markdown body",
                        "keep one: delete `description:` or empty the body", file=path, field="description")
    description = clean_text(desc_field or body or "")
    if not description:
        raise CardError("is missing", "add `description:` or write the description below the front matter",
                        file=path, field="description")
    if len(description) > DESCRIPTION_CAP:
        raise CardError(f"is {len(description):,} characters, over the cap of {DESCRIPTION_CAP:,}",
                        f"trim it to at most {DESCRIPTION_CAP:,} characters", file=path, field="description")

    return Tool(
        name=name, slug=slug, url=url,
        category=_str_field(data, "category", path), tagline=_str_field(data, "tagline", path),
        pricing=_str_field(data, "pricing", path), entry=_str_field(data, "entry", path),
        launched=launched, description=description, source=source,
    )
