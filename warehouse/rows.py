"""Row values shared by the warehouse's modules: ids, timestamps, and takes/tools read back from rows."""

from __future__ import annotations

import datetime as dt
import time
import uuid

from toolpanel.models import Take, Tool

# The takes table's columns: the Take model's fields (its one definition), the tool's slug under the
# column name `slug`, and after take_id the run that paid for it (run_id, not a field of the take).
TAKE_FIELD_COLUMNS = {"tool_slug": "slug"}
TAKE_COLUMNS = ("take_id", "run_id",
                *(TAKE_FIELD_COLUMNS.get(f, f) for f in Take.model_fields if f != "take_id"))


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def new_id(prefix: str) -> str:
    # Time-ordered prefix keeps ids sortable by creation; random tail keeps them unique across processes.
    return f"{prefix}_{time.time_ns():x}{uuid.uuid4().hex[:8]}"


def _take(row: tuple) -> Take:
    d = dict(zip(TAKE_COLUMNS, row))
    d.pop("run_id")
    d |= {f: d.pop(c) for f, c in TAKE_FIELD_COLUMNS.items()}
    d["flags"] = list(d["flags"] or [])
    d["evidence"] = list(d["evidence"] or [])
    d["seen_take_ids"] = list(d["seen_take_ids"] or [])
    d["round"] = d["round"] or 1
    return Take(**d)


def _tool(row: dict) -> Tool:
    return Tool(**{k: row[k] for k in ("name", "slug", "url", "category", "tagline", "pricing", "entry",
                                        "launched", "description", "source")})
