"""Eval runs in the warehouse: their own tables (eval_runs, eval_items, eval_takes), never takes/runs/verdicts."""

from __future__ import annotations

import datetime as dt
import json

from warehouse.rows import new_id, now
from warehouse.store import Warehouse


EVAL_TAKE_COLUMNS = ("take_id, eval_run_id, slug, repeat, variant, snapshot_hash, persona_id, persona_version, model, "
                     "prompt_hash, status, score, verdict, paragraph, evidence, flags, output_mode, tokens_in, "
                     "tokens_out, latency_ms, cost_usd, error_class, error, created_at, round, seen_take_ids")


def store_eval(store: Warehouse, *, started_at: dt.datetime, outcome, figures: dict, model_label: str,
               prompt_hash: str, persona_versions: dict[str, str], repeats: int, shuffles: bool,
               settings: dict) -> str:
    """Append one eval run with its reviews and takes in one transaction; returns its id."""
    rid = new_id("ev")
    cost = figures["cost"]
    gold = sorted({(r.item.path, r.item.tool.slug, r.item.verdict) for r in outcome.reviews})
    with store.transaction() as con:
        con.execute("INSERT INTO eval_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
            rid, started_at, now(), model_label, figures["models"], prompt_hash, json.dumps(persona_versions),
            json.dumps([{"path": p, "slug": s, "verdict": v} for p, s, v in gold]), repeats, shuffles,
            json.dumps(settings), json.dumps(figures), cost["tokens_in"], cost["tokens_out"], cost["cost_usd"],
            cost["wall_seconds"]])
        items, takes = [], []
        for r in outcome.reviews:
            v = r.verdict
            items.append([rid, r.item.tool.slug, r.item.path, r.item.verdict, r.repeat, r.variant, r.order, v.verdict,
                          v.ship_count, v.skip_count, v.abstain_count, v.failed_count, v.mean_score,
                          v.verdict == r.item.verdict])
            for t in r.paid:  # both rounds of a deliberating panel
                evidence = getattr(t, "evidence", None)
                takes.append([t.take_id, rid, t.tool_slug, r.repeat, r.variant, t.snapshot_hash, t.persona_id,
                              t.persona_version, t.model, t.prompt_hash, t.status, t.score, t.verdict, t.paragraph,
                              list(evidence) if evidence is not None else None, t.flags, t.output_mode,
                              t.tokens_in, t.tokens_out, t.latency_ms, t.cost_usd, t.error_class, t.error,
                              t.created_at, t.round, t.seen_take_ids])
        if items:
            con.executemany("INSERT INTO eval_items VALUES (" + ", ".join("?" * 14) + ")", items)
        if takes:
            con.executemany(f"INSERT INTO eval_takes ({EVAL_TAKE_COLUMNS}) VALUES (" + ", ".join("?" * 26) + ")",
                            takes)
    return rid


def list_evals(store: Warehouse) -> list[dict]:
    if not store.path.exists():
        return []
    return store.query("""
        SELECT eval_run_id, started_at, model, json_array_length(gold) AS items, repeats,
               figures->>'$.panel.accuracy' AS accuracy, figures->>'$.panel.kappa' AS kappa,
               figures->>'$.order.flip_rate' AS flip_rate, cost_usd, wall_seconds
        FROM eval_runs ORDER BY started_at, eval_run_id""")


def eval_figures(store: Warehouse, eval_run_id: str) -> dict | None:
    if not store.path.exists():
        return None
    rows = store.query("SELECT eval_run_id, started_at, model, figures FROM eval_runs WHERE eval_run_id = ?",
                       [eval_run_id])
    if not rows:
        return None
    row = rows[0]
    return {"eval_run_id": row["eval_run_id"], "started_at": row["started_at"], "model": row["model"],
            "figures": json.loads(row["figures"])}
