"""Provider faults never crash a batch, hang it, double-pay it, or hide a failure (docs/failures.md).

Real `toolpanel` subprocesses against the fake OpenAI server on loopback, real DuckDB files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.helpers import REMOTE_LIKE, SEED_A, cli, project_toml, rows, write_card


@pytest.fixture
def env(tp_home, provider_env, tmp_path) -> dict:
    project_toml(tmp_path, REMOTE_LIKE)
    return {k: os.environ[k] for k in ("TOOLPANEL_HOME", "OPENAI_BASE_URL", "OPENAI_API_KEY", "TOOLPANEL_MODEL")}


def _summary(stdout: str) -> dict:
    return json.loads(stdout)["summary"]


def test_flaky_provider_summary_counts_every_request_and_failed_take(env, provider_env, tmp_path):
    fake = provider_env
    fake.script("429_then_ok", persona="builder")
    for p in ("skeptic", "futurist", "founder"):
        fake.script("500", persona=p)
    r = cli("review", str(SEED_A), "--json", env=env, cwd=tmp_path)
    assert r.returncode == 3, r.stderr  # three personas failed: no quorum because of the provider
    s = _summary(r.stdout)
    # The client's own retries (max_retries=2 by default) are requests too: the server's count is the truth.
    assert s["requests"] == len(fake.requests) == 2 + 3 * 3 + 1
    assert (s["paid_takes"], s["failed_takes"], s["cached_takes"]) == (2, 3, 0)
    assert (s["reviewed"], s["incomplete_verdicts"], s["errored"], s["rejected"], s["held"]) == (1, 1, 0, 0, 0)

    plain = cli("review", str(SEED_A), env=env, cwd=tmp_path)  # the provider still fails for three personas
    assert plain.returncode == 3
    assert ("1 tool reviewed (0 held, 1 incomplete) · 0 tools failed · 0 inputs rejected · 3 takes asked "
            "(0 answered, 3 failed) · 2 takes cached · 9 requests") in plain.stdout


def test_abstentions_without_quorum_are_not_a_provider_failure(env, provider_env, tmp_path):
    fake = provider_env
    fake.script("abstain")
    r = cli("review", str(SEED_A), "--json", env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (_summary(r.stdout)["incomplete_verdicts"], _summary(r.stdout)["without_quorum"]) == (0, 1)
    plain = cli("review", str(SEED_A), env=env, cwd=tmp_path)  # the line says why the tool shows Incomplete
    assert "1 tool reviewed (0 held, 0 incomplete, 1 without quorum: too many abstained) · 0 tools failed · " \
        in plain.stdout, plain.stdout


@pytest.mark.fake_openai(json_schema="500", json_object_schema="ignored")
def test_mode_that_breaks_the_shape_is_demoted_said_and_not_bought_again(env, provider_env, tmp_path):
    fake = provider_env
    project_toml(tmp_path, REMOTE_LIKE.replace("concurrency = 8", "concurrency = 1"))  # one at a time
    r = cli("review", str(SEED_A), env=env, cwd=tmp_path)
    assert r.returncode == 3, r.stderr
    # take 1: json_schema probe (500) + json_object_schema + repair; takes 2-3: try + repair; then demoted
    assert ("1 tool reviewed (0 held, 1 incomplete) · 0 tools failed · 0 inputs rejected · 5 takes asked "
            "(2 answered, 3 failed) · 0 takes cached · 9 requests") in r.stdout
    notes = [line for line in r.stderr.splitlines() if line.startswith("note:")]
    assert notes == [f"note: fake-model-1 at {fake.base_url}: 3 takes in a row broke the json_object_schema shape; "
                     "using json_object from now on"]
    endpoints = json.loads((Path(env["TOOLPANEL_HOME"]) / "endpoints.json").read_text())
    assert endpoints == {f"{fake.base_url}|fake-model-1": "json_object"}
    failed = rows(Path(env["TOOLPANEL_HOME"]) / "warehouse.duckdb",
                  "SELECT error FROM takes WHERE status = 'failed'")
    assert len(failed) == 3 and all("score: Input should be a valid integer" in e for (e,) in failed)

    fake.reset()
    again = cli("review", str(SEED_A), env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    formats = [req["body"].get("response_format") for req in fake.chat_requests()]
    # only the failed takes, only in the mode that works; then the chair's panel summary (issue 27), in it too
    assert formats == [{"type": "json_object"}] * (3 + 1)
    assert "note:" not in again.stderr


def test_content_rule_failures_do_not_demote_the_mode(env, provider_env, tmp_path):
    fake = provider_env
    fake.script("short_paragraph")
    r = cli("review", str(SEED_A), "--json", env=env, cwd=tmp_path)
    assert r.returncode == 3
    assert json.loads(r.stdout)["notes"] == []
    endpoints = json.loads((Path(env["TOOLPANEL_HOME"]) / "endpoints.json").read_text())
    assert endpoints == {f"{fake.base_url}|fake-model-1": "json_schema"}


def _known_mode(home: Path, fake) -> None:
    """The endpoint's output mode is known, as after any earlier run, so no take waits for a probe."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "endpoints.json").write_text(json.dumps({f"{fake.base_url}|fake-model-1": "json_schema"}))


def _popen_review(args: list[str], env: dict, cwd: Path):
    import subprocess
    import sys
    exe = Path(sys.executable).parent / "toolpanel"
    return subprocess.Popen([str(exe), "review", *args], env=dict(os.environ, **env, COLUMNS="200"), cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_processes_on_the_same_cards_pay_once(env, provider_env, tmp_path):
    fake = provider_env
    fake.latency = 1.0  # both processes are in flight at the same time
    cards = tmp_path / "cards"
    for i in range(2):
        write_card(cards, f"tool-{i}")
    home = Path(env["TOOLPANEL_HOME"])
    _known_mode(home, fake)  # neither process probes
    procs = [_popen_review([str(cards), "--json"], env, tmp_path) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e for _, e in outs]
    summaries = [json.loads(o)["summary"] for o, _ in outs]

    # one request per take, whoever paid for it, and one panel summary per verdict (issue 27)
    assert fake.calls() == 10 + 2
    assert sum(s["requests"] for s in summaries) == 10 + 2 and sum(s["paid_takes"] for s in summaries) == 10
    assert all(s["reviewed"] == 2 and s["paid_takes"] + s["cached_takes"] == 10 for s in summaries)
    db = home / "warehouse.duckdb"
    assert rows(db, "SELECT slug, count(*) FROM verdicts GROUP BY slug ORDER BY slug") == [("tool-0", 1), ("tool-1", 1)]
    assert rows(db, "SELECT count(*), count(DISTINCT (snapshot_hash, persona_id)) FROM takes WHERE status = 'ok'") == [
        (10, 10)]
    assert rows(db, "SELECT count(*) FROM take_claims") == [(0,)]  # released with the runs' ends
    waited = [json.loads(o)["notes"] for o, _ in outs if json.loads(o)["summary"]["cached_takes"]]
    assert waited and all("waited for them instead of paying twice" in n for notes in waited for n in notes)


HOLDER = """
import sys, time, duckdb
print("ready", flush=True)
sys.stdin.readline()  # "go"
while True:
    try:
        con = duckdb.connect(sys.argv[1])  # read-write, like an analyst's notebook on the wrong file
        break
    except duckdb.IOException:
        time.sleep(0.01)
print("held", flush=True)
sys.stdin.read()  # until the test closes stdin
"""


def test_held_warehouse_keeps_paid_takes_in_the_journal_and_the_next_run_pays_nothing(env, provider_env, tmp_path):
    import subprocess
    import sys
    fake = provider_env
    fake.latency = 3.0
    home = Path(env["TOOLPANEL_HOME"])
    db = home / "warehouse.duckdb"
    _known_mode(home, fake)  # no probe: all five takes are in flight at once
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout.readline().strip() == "ready"
    review = _popen_review([str(SEED_A)], dict(env, TOOLPANEL_LOCK_WAIT="4"), tmp_path)
    while fake.calls() < 5:  # the run has started and every take is being paid for
        assert review.poll() is None, review.communicate()
        fake._wake.wait(0.05)
    try:
        holder.stdin.write("go\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "held"
        out, err = review.communicate(timeout=60)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    lines = err.strip().splitlines()
    assert review.returncode == 4, err
    notices = [line for line in lines if "is held by" in line]
    assert notices == [f"note: {db} is held by another process (PID {holder.pid}); waiting up to 4 s. Analysts: read "
                       f"the snapshot {home / 'analyst.duckdb'}, never the warehouse."]
    journal = home / "journal"
    [jfile] = list(journal.glob("*.jsonl"))
    assert lines[-1] == (f"error: the warehouse {db} was held by another process (PID {holder.pid}) for longer than the "
                         f"lock wait: 5 paid takes saved in {jfile}; the next toolpanel command that writes stores them "
                         f"without paying again — let that process finish (analysts read {home / 'analyst.duckdb'}), "
                         "then run again")
    assert "Traceback" not in err
    # 5 takes and the chair's panel summary (issue 27), whose record waits in the journal with its verdict
    assert "1 tool reviewed" in out and "5 takes asked (5 answered, 0 failed) · 0 takes cached · 6 requests" in out
    entries = [json.loads(line) for line in jfile.read_text().splitlines()]
    assert sum(len(e["items"]) for e in entries if e["op"] == "takes") == 5
    assert [e["op"] for e in entries].count("finish") == 1

    fake.reset()
    again = cli("review", str(SEED_A), "--json", env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    s = _summary(again.stdout)
    assert (s["requests"], s["paid_takes"], s["cached_takes"]) == (0, 0, 5) and fake.calls() == 0
    assert rows(db, "SELECT count(*), count(DISTINCT take_id) FROM takes") == [(5, 5)]
    assert rows(db, "SELECT status FROM run_history") == [("complete",)]
    assert rows(db, "SELECT count(*) FROM verdicts") == [(1,)]
    assert rows(db, "SELECT v.band IS NOT NULL, s.status FROM verdicts v JOIN panel_summaries s USING (verdict_id)"
                ) == [(True, "ok")]  # replayed with its verdict
    assert list(journal.glob("*.jsonl")) == []
