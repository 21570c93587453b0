"""Community votes: one at a time from the CLI, or a CSV export (slug,vote[,voter])."""

from __future__ import annotations

import csv
import difflib
from pathlib import Path

from toolpanel.errors import ToolpanelError
from warehouse.store import Warehouse
from warehouse.rows import new_id, now

VOTES = ("ship", "skip")


class VoteError(ToolpanelError):
    """One vote (or CSV row) that was not recorded: where (`file`, e.g. 'votes.csv:3'), field, problem, fix."""


def _check(slug: str, vote: str, known: set[str], where: str) -> VoteError | None:
    if slug not in known:
        close = difflib.get_close_matches(slug, sorted(known), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else "review the tool first (toolpanel review CARD)"
        return VoteError(f"no tool '{slug}' in the warehouse", hint, file=where, field="slug")
    if vote not in VOTES:
        return VoteError(f"'{vote}' is not a vote", "use ship or skip", file=where, field="vote")
    return None


def add_vote(store: Warehouse, slug: str, vote: str, voter: str | None = None, source: str = "cli") -> VoteError | None:
    vote = vote.strip().lower()
    err = _check(slug, vote, set(store.slugs()) if store.path.exists() else set(), "vote")
    if err:
        return err
    with store.transaction() as con:
        con.execute("INSERT INTO community_votes VALUES (?, ?, ?, ?, ?, ?)",
                    [new_id("cv"), slug, vote, voter, source, now()])
    return None


def import_csv(store: Warehouse, path: Path) -> tuple[int, list[VoteError]]:
    """Import every valid row; each bad row is one error naming the line; nothing valid is lost."""
    known = set(store.slugs()) if store.path.exists() else set()
    errors: list[VoteError] = []
    rows = []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return 0, [VoteError(f"cannot read it ({exc.__class__.__name__})", "export the votes as UTF-8 CSV",
                             file=str(path), field="file")]
    reader = csv.DictReader(text.splitlines())
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if "slug" not in header or "vote" not in header:
        return 0, [VoteError(f"columns are {', '.join(header) or 'missing'}",
                             "the first line must name the columns: slug,vote (and optionally voter)",
                             file=f"{path}:1", field="header")]
    for lineno, raw in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
        slug, vote = row.get("slug", ""), row.get("vote", "").lower()
        err = _check(slug, vote, known, f"{path}:{lineno}")
        if err:
            errors.append(err)
            continue
        rows.append([new_id("cv"), slug, vote, row.get("voter") or None, f"csv:{path.name}", now()])
    if rows:
        with store.transaction() as con:
            con.executemany("INSERT INTO community_votes VALUES (?, ?, ?, ?, ?, ?)", rows)
    return len(rows), errors
