"""Comparison answers in the warehouse (table pair_answers, m019): written after a review run, read by the
site for the pairs whose two published verdicts they answer."""

from __future__ import annotations

import json

import duckdb

from toolpanel.summaries import PairAnswer, PairRecord
from warehouse.rows import new_id, now

_COLUMNS = ("call_id, verdict_a, verdict_b, slug_a, slug_b, status, error, pick_slug, answer, letters, raw, model, "
            "tokens_in, tokens_out, cost_usd, created_at")


def insert(con: duckdb.DuckDBPyConnection, records: list[PairRecord]) -> None:
    for r in records:
        con.execute(f"INSERT INTO pair_answers ({_COLUMNS}) VALUES ({', '.join('?' * 16)})",
                    [r.call_id or new_id("pa"), *r.verdicts, *r.slugs, r.status, r.error, r.picked,
                     r.answer.model_dump_json() if r.answer else None, json.dumps(r.letters), r.raw, r.model,
                     r.tokens_in, r.tokens_out, r.cost_usd, now()])


def asked(con: duckdb.DuckDBPyConnection) -> set[frozenset]:
    """Every pair of verdicts the chair was asked about (ok or failed): a failed answer is not asked again
    until one of the two verdicts changes."""
    return {frozenset(r) for r in con.execute("SELECT verdict_a, verdict_b FROM pair_answers").fetchall()}


def published_answers(con: duckdb.DuckDBPyConnection) -> dict[frozenset, PairRecord]:
    """The newest ok answer of each pair of verdicts that are both published now, keyed by the two verdict ids."""
    return _newest(con, "JOIN published_verdicts x ON x.verdict_id = p.verdict_a "
                        "JOIN published_verdicts y ON y.verdict_id = p.verdict_b", [])


def answer_for(con: duckdb.DuckDBPyConnection, verdict_a: str, verdict_b: str) -> PairRecord | None:
    """The newest ok answer about these two verdicts (in either order), or None."""
    return _newest(con, "WHERE list_sort([p.verdict_a, p.verdict_b]) = list_sort([?, ?])",
                   [verdict_a, verdict_b]).get(frozenset((verdict_a, verdict_b)))


def _newest(con: duckdb.DuckDBPyConnection, where: str, params: list) -> dict[frozenset, PairRecord]:
    where = where + (" AND" if where.startswith("WHERE") else " WHERE") + " p.status = 'ok'"
    out: dict[frozenset, PairRecord] = {}
    for call_id, va, vb, sa, sb, answer, letters, model in con.execute(
            "SELECT p.call_id, p.verdict_a, p.verdict_b, p.slug_a, p.slug_b, p.answer, p.letters, p.model "
            f"FROM pair_answers p {where} ORDER BY p.created_at, p.call_id", params).fetchall():
        out[frozenset((va, vb))] = PairRecord(status="ok", call_id=call_id, slugs=(sa, sb), verdicts=(va, vb),
                                              model=model, answer=PairAnswer.model_validate_json(answer),
                                              letters=json.loads(letters))
    return out
