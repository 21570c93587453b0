"""Issue 25, one home for the take and the panel: the warehouse's take columns come from the Take model, and
the bench's bulk loader makes its rows from the personas it is given and the verdict rule's own SQL."""

from __future__ import annotations

import duckdb

import datetime as dt

from scoring.rules import verdict
from toolpanel.models import Take
from toolpanel.panel.llm import Completion
from warehouse.bulk import bulk_load, configured_personas
from warehouse.rows import TAKE_COLUMNS, TAKE_FIELD_COLUMNS, _take
from warehouse.store import Warehouse


def test_take_columns_are_the_take_fields_and_the_warehouse_schema(tmp_path):
    store = Warehouse(tmp_path / "w.duckdb")
    with store.connect() as con:
        schema = [r[0] for r in con.execute("SELECT column_name FROM information_schema.columns "
                                            "WHERE table_name = 'takes' ORDER BY ordinal_position").fetchall()]
    assert sorted(TAKE_COLUMNS) == sorted(schema)  # the schema (migrations) is unchanged
    assert [TAKE_FIELD_COLUMNS.get(f, f) for f in Take.model_fields] == [c for c in TAKE_COLUMNS if c != "run_id"]


def test_a_completion_gives_its_take_the_take_fields_it_shares():
    c = Completion(mode="json_schema", response_model="m-2026", tokens_in=1400, tokens_out=110, latency_ms=2300,
                   error_class="APITimeoutError", error="Request timed out.", raw="{", attempts=["attempt 1"])
    fields = c.take_fields()
    assert set(fields) == {"response_model", "output_mode", "tokens_in", "tokens_out", "latency_ms", "error_class",
                           "error"}
    take = Take(take_id="tk", tool_slug="t", snapshot_hash="s", persona_id="p", persona_version="v", model="m",
                prompt_hash="h", status="failed", created_at=dt.datetime(2026, 1, 1), **fields)
    assert take.output_mode == "json_schema" and take.tokens_in == 1400 and take.error == "Request timed out."


def test_bulk_rows_follow_the_personas_given_and_the_python_rule(tmp_path):
    panel = ["ana", "bo", "cy", "di"]
    store = Warehouse(tmp_path / "w.duckdb")
    info = bulk_load(store, takes=400, reviews_per_tool=2, personas=panel)
    assert info["takes"] == 400 and info["runs"] == 100
    con = duckdb.connect(str(store.path), read_only=True)
    assert [r[0] for r in con.execute("SELECT DISTINCT persona_id FROM takes ORDER BY 1").fetchall()] == panel
    assert con.execute("SELECT DISTINCT persona_versions::VARCHAR FROM runs").fetchall() == [
        ('{"ana": "v1", "bo": "v1", "cy": "v1", "di": "v1"}',)]
    by_run: dict[str, list[Take]] = {}
    for row in con.execute(f"SELECT {', '.join(TAKE_COLUMNS)} FROM takes").fetchall():
        by_run.setdefault(row[1], []).append(_take(row))
    cols = ["run_id", "verdict", "ship_count", "skip_count", "abstain_count", "failed_count", "ship_pct",
            "mean_score", "median_score", "spread", "split_panel", "take_ids"]
    stored = {r[0]: dict(zip(cols[1:], r[1:])) for r in con.execute(f"SELECT {', '.join(cols)} FROM verdicts").fetchall()}
    expected = {run: verdict("t", takes) for run, takes in by_run.items()}
    complete = {run for run, v in expected.items() if v.quorum_met}
    assert set(stored) == complete and complete
    for run in complete:
        assert stored[run] == expected[run].model_dump(include=set(cols[1:])), run
    results = dict(con.execute("SELECT run_id, status FROM run_results").fetchall())
    assert results == {run: "complete" if run in complete else "incomplete" for run in by_run}


def test_the_bulk_loader_defaults_to_the_configured_panel():
    assert len(configured_personas()) >= 3
