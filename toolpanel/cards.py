"""Tool cards: YAML files, or Markdown with YAML front matter whose body is the description.

Reading is total: every file or path yields a Tool or exactly one CardError, with the limits of
`config.Limits` applied before anything is parsed (docs/inputs.md).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import stat
from pathlib import Path

import yaml

from toolpanel.config import Limits
from toolpanel.errors import ToolpanelError, quote
from toolpanel.models import Tool
from toolpanel.text import DESCRIPTION_CAP, FIELD_CAP, SLUG_RE, clean_line, clean_text, slugify

CARD_SUFFIXES = {".md", ".markdown", ".yaml", ".yml"}
FIELDS = ("name", "slug", "url", "category", "tagline", "pricing", "entry", "launched", "description")
YAML_FIX = "fix the YAML (close quotes; quote values that contain ':' or '#')"
# Plain YAML needs no explicit tags; anything else (!!python/object, !!binary, custom tags) is refused.
_CORE_TAGS = {"!"} | {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "timestamp", "seq",
                                                          "map")}


class CardError(ToolpanelError):
    """One bad card: which file, which field, what is wrong, how to fix it."""

    @property
    def path(self) -> str:
        return self.file or ""


class _Refused(Exception):
    """Raised inside the YAML loader: a construct cards do not allow (turned into a CardError with its line)."""

    def __init__(self, mark, problem: str, fix: str, field: str | None = None):
        super().__init__(problem)
        self.mark, self.problem, self.fix, self.field = mark, problem, fix, field


class _CardLoader(yaml.SafeLoader):
    """SafeLoader with the card rules: no anchors/aliases, no tags, no duplicate keys, bounded depth.

    An impossible date (2026-13-01) stays text instead of raising ValueError. Aliases are refused when
    they are met, before anything is expanded (a few hundred bytes of aliases can expand to gigabytes).
    """

    max_depth = Limits().yaml_depth
    line_offset = 0  # lines before the YAML in the file (a Markdown card's opening '---')

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise _Refused(event.start_mark, "uses a YAML anchor or alias ('&' or '*')",
                           "write each value out in full: cards do not use anchors or aliases")
        tag = getattr(event, "tag", None)
        if tag and tag not in _CORE_TAGS:
            raise _Refused(event.start_mark, f"uses the YAML tag {quote(tag.replace('tag:yaml.org,2002:', '!!'))}",
                           "remove the tag: a card holds plain text, dates and lists")
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                raise _Refused(event.start_mark, f"is nested more than {self.max_depth} levels deep",
                               "write fields as 'field: value' lines; no card needs deep nesting")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):
        seen: dict[str, int] = {}
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode):
                line = key.start_mark.line + 1 + self.line_offset
                if key.value in seen:
                    raise _Refused(key.start_mark, f"is given twice (lines {seen[key.value]} and {line})",
                                   "keep one of them", field=key.value)
                seen[key.value] = line
        return super().construct_mapping(node, deep)


def _timestamp_or_text(loader: yaml.SafeLoader, node: yaml.Node):
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return loader.construct_scalar(node)


_CardLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_or_text)


def load_yaml(text: str, file: str, *, max_depth: int = Limits().yaml_depth, line_offset: int = 0):
    """Parse YAML under the card rules; every failure is one ToolpanelError naming the line (never another type).

    Shared with persona files. `line_offset` counts lines before `text` in the file (front matter's '---').
    """
    loader = None
    try:
        loader = _CardLoader(text)  # the reader refuses control characters here, before any parsing
        loader.max_depth, loader.line_offset = max_depth, line_offset
        return loader.get_single_data()
    except _Refused as exc:
        line = f" (line {exc.mark.line + 1 + line_offset})" if exc.mark else ""
        if exc.field is not None:
            raise CardError(f"{exc.problem}", exc.fix, file=file, field=exc.field) from None
        raise CardError(f"{exc.problem}{line}", exc.fix, file=file) from None
    except yaml.reader.ReaderError as exc:
        line = text[:exc.position].count("\n") + 1 + line_offset
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        what = "a NUL byte" if char == "\0" else f"the control character U+{ord(char):04X}"
        raise CardError(f"contains {what} at line {line}, which YAML does not allow",
                        "remove it: a card is plain UTF-8 text", file=file) from None
    except yaml.YAMLError as exc:
        # The context mark points at where the bad construct starts (e.g. the unclosed quote).
        mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1 + line_offset}" if mark else ""
        problem = " ".join(x for x in (getattr(exc, "context", None), getattr(exc, "problem", None)) if x)
        lines = text.split("\n")
        key = re.match(r"\s*([A-Za-z_][\w-]*)\s*:", lines[mark.line]) if mark and mark.line < len(lines) else None
        raise CardError(f"YAML syntax error{where}: {problem or 'invalid YAML'}", YAML_FIX,
                        file=file, field=key.group(1) if key else None) from None
    except (RecursionError, MemoryError, ValueError, TypeError, OverflowError) as exc:
        raise CardError(f"could not be read as YAML ({exc.__class__.__name__})", YAML_FIX, file=file) from None
    finally:
        if loader is not None:
            loader.dispose()


# ------------------------------------------------------------------------------------------ finding files

_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"))
_DIR = "dir"


def _special(mode: int) -> str | None:
    return next((name for test, name in _KINDS if test(mode)), None if stat.S_ISREG(mode) else "not a regular file")


def _classify(p: Path, root: Path | None) -> Path | CardError | str:
    """A card file to read, one rejection, or _DIR. Never opens anything (lstat/stat only)."""
    f = str(p)
    try:
        st = p.lstat()
    except FileNotFoundError:
        return CardError("no such file or directory", "check the path", file=f)
    except OSError as exc:
        return CardError(f"cannot be read ({exc.strerror or exc.__class__.__name__})", "check the path", file=f)
    if stat.S_ISLNK(st.st_mode):
        try:
            target = p.resolve(strict=True)
        except RuntimeError:
            return CardError("is a symbolic link that loops back on itself", "point it at a card file, or delete it",
                             file=f)
        except FileNotFoundError:
            return CardError(f"is a symbolic link to {quote(os.readlink(p), 200)}, which does not exist",
                             "point it at an existing card, or delete it", file=f)
        except OSError as exc:
            return CardError(f"is a symbolic link that cannot be followed ({exc.strerror})",
                             "point it at a card file, or delete it", file=f)
        if root is not None and not target.is_relative_to(root):
            return CardError(f"is a symbolic link to {quote(str(target), 200)}, outside the card directory",
                             "copy the card into the directory instead of linking to it", file=f)
        try:
            st = target.stat()
        except OSError as exc:
            return CardError(f"cannot be read ({exc.strerror})", "check the path", file=f)
    if stat.S_ISDIR(st.st_mode):
        return _DIR
    kind = _special(st.st_mode)
    if kind:
        return CardError(f"is {kind}, not a card file", "remove it from the card directory: only regular files are read",
                         file=f)
    return p


def _walk(d: Path, root: Path, found: list[tuple[Path, Path | CardError]]) -> None:
    try:
        entries = sorted(os.scandir(d), key=lambda e: e.name)
    except OSError as exc:
        found.append((d, CardError(f"cannot be listed ({exc.strerror})", "make the directory readable", file=str(d))))
        return
    for e in entries:
        p = Path(e.path)
        is_card = p.suffix.lower() in CARD_SUFFIXES
        try:
            real_dir = e.is_dir(follow_symlinks=False)
        except OSError:
            real_dir = False
        if real_dir and not is_card:
            _walk(p, root, found)
            continue
        if not is_card:
            continue  # not a card (a README, an image, a symlink to a folder): not read, not an error
        got = _classify(p, root)
        if got == _DIR:
            got = CardError("is a directory, not a card file",
                            "rename it: names ending in .md, .markdown, .yaml or .yml are read as cards", file=str(p))
        found.append((p, got))


def find_cards(paths: list[str | Path]) -> list[tuple[Path, Path | CardError]]:
    """Files and directories -> card files to read or one rejection each, in order (files deduplicated).

    A directory is walked without following symbolic links out of it: a link that stays inside is read,
    one that leaves, loops or dangles is one rejection; FIFOs, sockets and devices are never opened.
    """
    found: list[tuple[Path, Path | CardError]] = []
    for raw in paths:
        p = Path(raw)
        got = _classify(p, None)  # a path named on purpose may point anywhere
        if got == _DIR:
            below: list[tuple[Path, Path | CardError]] = []
            _walk(p, p.resolve(), below)
            found.extend(sorted(below, key=lambda x: x[0]))
        else:
            found.append((p, got))
    seen: set[Path] = set()
    unique = []
    for p, got in found:
        if isinstance(got, Path):
            key = got.resolve()
            if key in seen:
                continue
            seen.add(key)
        unique.append((p, got))
    return unique


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
        kind = _special(st.st_mode)
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
