"""Issue 25, one home for the verdict rule: the SQL that the bulk loader runs for speed
(scoring.rules.verdict_sql, used by warehouse/bulk.py) is generated from scoring/rules.py, and gives the
same verdict as the Python rule (verdict, panel_verdict) on every take set, edge cases included."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from scoring.rules import QUORUM, SHIP_THRESHOLD, SPLIT_MINORITY, SPLIT_SPREAD, panel_verdict, verdict, verdict_sql
from toolpanel.models import CarriedTake, Take, Verdict

T = SHIP_THRESHOLD
# Every Verdict field that `verdict` computes from the takes (the slug is the caller's; carried and missing
# are panel_verdict's bookkeeping, not the rule).
FIELDS = [f for f in Verdict.model_fields if f not in ("tool_slug", "carried", "missing")]

# A take as (status, score, verdict, id): ok takes normally have both a score and a verdict; the Take model
# also allows an ok take without them and an abstained/failed take with leftovers, which must not count.
# Take ids mix cases and punctuation: take_ids are sorted as Python sorts them.
SCORES = st.one_of(st.sampled_from([0, 1, T - 1, T, T + 1, 99, 100, T - SPLIT_SPREAD, T + SPLIT_SPREAD]),
                   st.integers(0, 100))
IDS = st.text(alphabet="aAbB_z9-", min_size=1, max_size=4)


def take_st(scores):
    ok_take = st.tuples(st.just("ok"), scores, st.sampled_from(["ship", "skip"]), IDS)
    odd_ok = st.tuples(st.just("ok"), st.none() | scores, st.none() | st.sampled_from(["ship", "skip"]), IDS)
    no_position = st.tuples(st.sampled_from(["abstained", "failed"]), st.none(), st.none(), IDS)
    leftover = st.tuples(st.sampled_from(["abstained", "failed"]), scores, st.sampled_from(["ship", "skip"]), IDS)
    return st.one_of(ok_take, ok_take, ok_take, no_position, no_position, odd_ok, leftover)


# Panels of up to 24 takes (a panel of 20 is where a mean first falls on x.x5), with scores anywhere or close
# together (where the split panel rests on the minority's share alone); several per example, so the GROUP
# BY is exercised too.
TAKE_SET = st.one_of(st.lists(take_st(SCORES), min_size=1, max_size=24),
                     st.lists(take_st(st.integers(T - 8, T + 8)), min_size=1, max_size=24))
TAKE_SETS = st.lists(TAKE_SET, min_size=1, max_size=6)


def ok(score: int | None, v: str | None = None) -> tuple:
    return ("ok", score, v or ("ship" if score is not None and score >= T else "skip"), "x")


ABST, FAIL = ("abstained", None, None, "x"), ("failed", None, None, "x")
EDGES = [
    [ok(T), ok(T), ok(T - 1), ABST, FAIL],  # 2 ship 1 skip; abstained and failed don't count
    [ok(T, "ship"), ok(T, "skip"), ok(T + 1, "ship"), ok(T - 1)],  # tie, mean exactly at the threshold: ship
    [ok(T, "ship"), ok(T - 1), ok(T, "ship"), ok(T - 1)],  # tie, mean just below it (59.5): skip
    [ok(T, "ship")] * 10 + [ok(T, "skip")] * 9 + [ok(T - 1)],  # tie 10:10, mean 59.95 rounds to 60.0: ship
    [ok(T + 1), ok(T + 2), ok(T + 3), ok(T + 3)],  # mean 62.25: rounded half to even, 62.2, as Python does
    [ok(T)] + [ok(T - 1)] * 15,  # ship % 6.25: rounded half to even too, 6.2
    [ok(T), ok(T - 1), ABST, ABST, FAIL],  # below quorum: incomplete, though there are positions
    [ok(T)] * (QUORUM - 1),
    [ok(T)] * QUORUM,  # exactly quorum
    [ABST] * 5,
    [FAIL] * 5,
    [ok(T + 5), ok(T + 5), ok(T + 5), ok(T - 5), ok(T - 5)],  # 2 of 5, spread 10: split (the minority's 40%)
    [ok(T + 5), ok(T + 5), ok(T + 5), ok(T + 5), ok(T - 5), ok(T - 5)],  # 2 of 6 (33%), spread 10: not split
    [ok(T), ok(T), ok(T), ok(T), ok(T + 3, "skip")],  # 1 of 5, spread 3: not split
    [ok(50, "ship"), ok(50 + SPLIT_SPREAD, "ship"), ok(70, "ship")],  # spread exactly SPLIT_SPREAD: split
    [ok(50, "ship"), ok(49 + SPLIT_SPREAD, "ship"), ok(70, "ship")],  # one point less: not split
    [ok(None, None), ok(None, None), ok(None, None)],  # quorum without positions: tie rule, mean 0 -> skip
    [ok(80, None), ok(80, None), ok(80, None)],  # quorum without positions, mean 80 -> ship
    [("abstained", 100, "ship", "x"), ("failed", 100, "ship", "x"), ok(10), ok(20), ok(30)],  # leftovers
    [ok(T), ok(T), ok(T), ok(T), ok(T)],  # unanimous
]


def takes_of(raw: list[tuple], group: int) -> list[Take]:
    return [Take(take_id=f"{rid}.{group}.{i}", tool_slug="t", snapshot_hash="s", persona_id=f"p{i}",
                 persona_version="v", model="m", prompt_hash="h", status=status, score=score, verdict=v,
                 created_at=dt.datetime(2026, 1, 1))
            for i, (status, score, v, rid) in enumerate(raw)]


COLUMNS = "grp INTEGER, take_id VARCHAR, status VARCHAR, verdict VARCHAR, score INTEGER"
DB = duckdb.connect()  # one real in-memory DuckDB for the module (a connection per example is slow)
DB.execute(f"CREATE TABLE takes ({COLUMNS})")


def sql_verdicts(take_sets: list[list[Take]], sql: str) -> dict[int, dict]:
    """The generated SQL over the take sets, in DuckDB: group -> the Verdict fields."""
    DB.execute("DELETE FROM takes")
    DB.execute(f"INSERT INTO takes SELECT unnest(?::STRUCT({COLUMNS})[], recursive := true)",
               [[{"grp": g, "take_id": t.take_id, "status": t.status, "verdict": t.verdict, "score": t.score}
                 for g, ts in enumerate(take_sets) for t in ts]])
    cur = DB.execute(sql)
    names = [d[0] for d in cur.description]
    assert set(names) == {"grp", *FIELDS}, "the SQL sets exactly the Verdict fields the rule computes"
    return {r["grp"]: {f: r[f] for f in FIELDS} for r in (dict(zip(names, row)) for row in cur.fetchall())}


def mismatches(raw_sets: list[list[tuple]], sql: str = verdict_sql("takes", ("grp",))) -> list:
    take_sets = [takes_of(raw, g) for g, raw in enumerate(raw_sets)]
    got = sql_verdicts(take_sets, sql)
    out = []
    for g, takes in enumerate(take_sets):
        want = verdict("t", takes).model_dump(include=set(FIELDS))
        # a partial re-review: some takes carried over count exactly like the ones just asked for
        half = len(takes) // 2
        carried = [(t, CarriedTake(persona_id=t.persona_id, take_id=t.take_id, from_verdict_id="vd", from_run_id="r"))
                   for t in takes[half:]]
        whole = panel_verdict("t", takes[:half], [t.persona_id for t in takes], carried)
        assert whole.model_dump(include=set(FIELDS)) == want and whole.missing == []
        if got[g] != want:
            out.append((raw_sets[g], {f: (want[f], got[g][f]) for f in FIELDS if want[f] != got[g][f]}))
    return out


@settings(max_examples=300, deadline=None)
@example(EDGES)
@given(TAKE_SETS)
def test_generated_sql_gives_the_python_verdict(raw_sets):
    assert mismatches(raw_sets) == []


@pytest.mark.parametrize("raw", EDGES, ids=range(len(EDGES)))
def test_each_edge_case_alone_without_grouping(raw):
    takes = takes_of(raw, 0)
    con = duckdb.connect()
    con.execute("CREATE TABLE takes (take_id VARCHAR, status VARCHAR, verdict VARCHAR, score INTEGER)")
    con.executemany("INSERT INTO takes VALUES (?, ?, ?, ?)", [(t.take_id, t.status, t.verdict, t.score) for t in takes])
    cur = con.execute(verdict_sql("takes"))
    row = dict(zip([d[0] for d in cur.description], cur.fetchone()))
    assert row == verdict("t", takes).model_dump(include=set(FIELDS))


def test_no_takes_at_all():
    con = duckdb.connect()
    con.execute("CREATE TABLE takes (take_id VARCHAR, status VARCHAR, verdict VARCHAR, score INTEGER)")
    cur = con.execute(verdict_sql("takes"))
    assert dict(zip([d[0] for d in cur.description], cur.fetchone())) == verdict("t", []).model_dump(include=set(FIELDS))


@pytest.mark.parametrize("old, new", [
    (f">= {T} THEN 'ship'", f"> {T} THEN 'ship'"),  # the tie rule's threshold
    ("round_even(avg", "round(avg"),  # rounding the mean half away from zero
    ("round_even(100.0", "round(100.0"),  # and the ship %
    (f"< {QUORUM} THEN 'incomplete'", f"< {QUORUM - 1} THEN 'incomplete'"),  # quorum
    ("coalesce(spread >= ", "coalesce(spread > "),  # the split panel's spread
    (f"{{positions}} >= {SPLIT_MINORITY}".format(positions="(ship_count + skip_count)"),
     f"(ship_count + skip_count) > {SPLIT_MINORITY}"),  # the split panel's minority share
    ("median(score) FILTER (WHERE status = 'ok')", "median(score)"),  # scores of takes without a position
    ("FILTER (WHERE status = 'ok')", "FILTER (WHERE true)"),  # counting takes without a position
])
def test_the_check_catches_a_changed_rule(old, new):
    sql = verdict_sql("takes", ("grp",))
    assert old in sql
    assert mismatches(EDGES, sql.replace(old, new)) != []
