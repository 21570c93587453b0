"""Row values shared by the warehouse's modules: ids, timestamps, and takes/tools read back from rows."""

from __future__ import annotations

import datetime as dt
import time
import uuid

from toolpanel.models import Take, Tool

TAKE_COLUMNS = ("take_id", "run_id", "slug", "snapshot_hash", "persona_id", "persona_version", "model",
                "prompt_hash", "status", "score", "verdict", "paragraph", "evidence", "flags", "response_model",
                "output_mode", "tokens_in", "tokens_out", "latency_ms", "cost_usd", "error_class", "error",
                "created_at")


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def new_id(prefix: str) -> str:
    # Time-ordered prefix keeps ids sortable by creation; random tail keeps them unique across processes.
    return f"{prefix}_{time.time_ns():x}{uuid.uuid4().hex[:8]}"


def _take(row: tuple) -> Take:
    d = dict(zip(TAKE_COLUMNS, row))
    d["tool_slug"] = d.pop("slug")
    d.pop("run_id")
    d["flags"] = list(d["flags"] or [])
    d["evidence"] = list(d["evidence"] or [])
    return Take(**d)


def _tool(row: dict) -> Tool:
    return Tool(**{k: row[k] for k in ("name", "slug", "url", "category", "tagline", "pricing", "entry",
                                        "launched", "description", "source")})
