"""Identity (pure): which tool an item is, and whether its source may speak for that tool.

Rules, in order:
1. Cards are the editor's own files: the card's slug is the tool, whatever its URL.
2. A feed/list item whose canonical URL is already known is that tool (its title may have changed).
3. Otherwise the item's slug (from its title) names a new tool — unless that slug belongs to a tool with
   another URL: then the newcomer gets its own slug, `<slug>-<6 hex of its URL>`, and never touches the other.
4. One tool, one voice: when several sources carry the same tool, the source that first brought it in
   (its owner) speaks for it whenever that source is part of the run; the other copies are duplicates.
   Within a run, card sources come first, then the order given. So a feed that rolls an item off, or a
   second site with another blurb, never makes a tool look "changed".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from toolpanel.models import Tool


@dataclass(frozen=True)
class Known:
    """What the warehouse already knows."""

    url_slugs: dict[str, str] = field(default_factory=dict)  # identity key -> slug
    slug_keys: dict[str, str | None] = field(default_factory=dict)  # slug -> identity key of its latest snapshot
    owners: dict[str, str] = field(default_factory=dict)  # slug -> the source that first brought it in


@dataclass(frozen=True)
class Candidate:
    source: str
    card: bool
    tool: Tool
    key: str | None  # identity key of tool.url


@dataclass(frozen=True)
class Decision:
    slug: str
    duplicate_of: str | None = None  # the source whose copy speaks for the tool
    note: str | None = None


def alternative_slug(slug: str, key: str) -> str:
    return f"{slug[:73].rstrip('-')}-{hashlib.sha256(key.encode()).hexdigest()[:6]}"


def resolve(candidates: list[Candidate], known: Known, run_sources: set[str]) -> list[Decision]:
    """One decision per candidate; candidates must come in priority order (cards first)."""
    url_slugs = dict(known.url_slugs)
    slug_keys = dict(known.slug_keys)
    claimed: dict[str, str] = {}  # slug -> source whose copy this run uses
    out: list[Decision] = []
    for c in candidates:
        if c.card:
            slug, note = c.tool.slug, None
        else:
            slug, note = url_slugs.get(c.key or ""), None
            if slug is None:
                slug = c.tool.slug
                holder = slug_keys.get(slug, c.key)
                if holder != c.key:
                    alt = alternative_slug(slug, c.key or "")
                    note = f"slug '{slug}' belongs to another tool ({holder or 'no URL'}); this one is '{alt}'"
                    slug = alt
        if slug in claimed:
            out.append(Decision(slug, duplicate_of=claimed[slug], note=f"same tool as an item of {claimed[slug]}"))
            continue
        owner = known.owners.get(slug)
        if not c.card and owner and owner != c.source and owner in run_sources:
            out.append(Decision(slug, duplicate_of=owner, note=f"{owner} brought this tool in first and speaks for it"))
            continue
        claimed[slug] = c.source
        if c.key:
            url_slugs.setdefault(c.key, slug)
        slug_keys.setdefault(slug, c.key)
        out.append(Decision(slug, note=note))
    return out
