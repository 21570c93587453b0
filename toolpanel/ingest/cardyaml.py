"""The YAML of cards and persona files, read under the card rules: no anchors or aliases, no tags, no
duplicate keys, bounded depth; every failure is one CardError naming the line."""

from __future__ import annotations

import re

import yaml

from toolpanel.sections import Limits
from toolpanel.errors import ToolpanelError, quote

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
    """Internal signal, raised inside the YAML loader: a construct cards do not allow (turned into a CardError with its line)."""

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
