"""Prefect hygiene: the review-queue suspension is logged at INFO (a real run under prefect_test_harness,
read back from the API), deployment names that say what they do, and the concurrency limit named after
the provider actually configured."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest
import yaml

from tests.helpers import ROOT
from toolpanel.config import load_settings

SMOL = "toolpanel-llm-local-smollm2-135m-instruct"


# -- the suspension --------------------------------------------------------------------------------


class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


def _record(level: int, msg: str) -> logging.LogRecord:
    return logging.LogRecord("prefect.flow_runs", level, __file__, 1, msg, None, None)


def test_the_filter_downgrades_exactly_the_suspension_record():
    from flows.queue import SuspensionIsNormal

    f = SuspensionIsNormal()
    for msg in ("Finished in state Suspended(type=PAUSED)", "Finished in state Suspended('waiting', type=PAUSED)"):
        r = _record(logging.ERROR, msg)
        assert f.filter(r) and (r.levelno, r.levelname) == (logging.INFO, "INFO")
    for msg in ("Finished in state Failed('boom')", "Finished in state Crashed(...)", "Suspended by hand"):
        r = _record(logging.ERROR, msg)
        assert f.filter(r) and r.levelno == logging.ERROR  # a real failure stays an error


@pytest.fixture(scope="module")
def harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def test_review_queue_suspension_is_logged_at_info(harness, tp_home, monkeypatch):
    """The real flow, run by Prefect's engine from a deployment run, suspends for its form; neither the
    engine's final-state line nor anything else in the run's log (as the API stores it) is an ERROR."""
    import flows.queue as queue
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.exceptions import Pause
    from prefect.flow_engine import run_flow
    from prefect.logging.handlers import APILogHandler
    from toolpanel.queue.held import QueueItem

    item = QueueItem(slug="split-tool", name="Split Tool", verdict_id="vd-1", new="Ship · 3 ship / 2 skip",
                     old=None, reasons=["split panel (3 ship / 2 skip, scores spread 65 points)"],
                     held_verdicts=1, held_at="2026-11-20 09:00", takes=["Builder: 85/100 · ship — fine"])

    async def shown(settings):
        return [item]

    monkeypatch.setattr(queue, "_shown", shown)  # the held tools; everything after it is the real flow
    flow_logger = logging.getLogger("prefect.flow_runs")
    for f in [f for f in flow_logger.filters if isinstance(f, queue.SuspensionIsNormal)]:
        flow_logger.removeFilter(f)  # installed at import; the run must install it itself
    seen = Records()
    flow_logger.addHandler(seen)

    async def go():
        deployment_id = await (await queue.review_queue.ato_deployment(name="review-queue")).aapply()
        async with get_client() as client:
            run = await client.create_flow_run_from_deployment(deployment_id)
            try:
                await run_flow(queue.review_queue, flow_run=run)
            except Pause:
                pass
            await APILogHandler.aflush()
            state = (await client.read_flow_run(run.id)).state
            logs = await client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])))
            return state, logs

    try:
        state, logs = asyncio.run(go())
    finally:
        flow_logger.removeHandler(seen)
    assert state.is_paused() and state.name == "Suspended"
    final = [r for r in seen.records if r.getMessage().startswith("Finished in state Suspended")]
    assert [r.levelname for r in final] == ["INFO"]
    assert any(log.message.startswith("Finished in state Suspended") and log.level == logging.INFO for log in logs)
    assert [log.message for log in logs if log.level >= logging.ERROR] == []


# -- deployment names ------------------------------------------------------------------------------


def test_deployments_say_what_they_do(tp_home):
    from flows.queue import DEPLOYMENT
    from flows.serve import deployments

    full = [f"{d.flow_name}/{d.name}" for d in deployments(load_settings())]
    assert full == ["daily-review/daily", "re-review/re-review", "publish/site", "review-queue/review-queue",
                    "newsletter/newsletter"]
    assert DEPLOYMENT in full
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    assert {d["name"]: d["entrypoint"] for d in spec["deployments"]} == {
        "daily": "flows/reviews.py:daily_review", "re-review": "flows/reviews.py:re_review",
        "site": "flows/reviews.py:publish", "review-queue": "flows/queue.py:review_queue",
        "newsletter": "flows/newsletter.py:newsletter"}
    for doc in ("docs/editors.md", "docs/prefect.md"):
        text = (ROOT / doc).read_text()
        assert "'editor'" not in text and "/editor`" not in text and "`editor` (" not in text, doc


def test_serve_prints_the_deployments_and_the_limit_of_the_configured_provider(tp_home, monkeypatch):
    """`serve` against an external API (no server started), with the runner (flows/serving.py) and the limit
    call stubbed: what it prints with the bundled model configured."""
    import flows.limits
    from flows import serve as serve_mod
    from flows import serving

    for var in ("PREFECT_HOME", "PREFECT_LOCAL_STORAGE_PATH", "PREFECT_SERVER_ANALYTICS_ENABLED"):
        monkeypatch.setenv(var, os.environ.get(var, ""))  # serve sets them; restored afterwards
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    served = []

    async def no_limit(settings):
        return flows.limits.limit_name(settings)

    monkeypatch.setattr(flows.limits, "ensure_limit", no_limit)
    monkeypatch.setattr(serving, "run_deployments", lambda deps, **kw: served.extend(deps) or True)
    lines: list[str] = []
    serve_mod.serve(load_settings(), echo=lines.append)
    out = "\n".join(lines)
    assert "open 're-review/re-review'" in out and "'review-queue/review-queue'" in out
    assert f"global concurrency limit '{SMOL}'" in out and "openai" not in out
    assert sorted(d.name for d in served) == ["daily", "newsletter", "re-review", "review-queue", "site"]


# -- the concurrency limit's name ------------------------------------------------------------------


def test_limit_is_named_after_the_provider_actually_configured(tp_home, tmp_path, monkeypatch):
    from flows.limits import limit_name

    bundled = load_settings()
    assert bundled.uses_local_model and limit_name(bundled) == SMOL
    # as the flow sees it after the model server started: its loopback URL and toolpanel's key
    resolved = bundled.model_copy(update={"base_url": "http://127.0.0.1:51763/v1", "api_key": "local"})
    assert limit_name(resolved) == SMOL
    Path("toolpanel.toml").write_text(f'[local]\ngguf = "{tmp_path / "qwen2.5-0.5b-instruct-q4_k_m.gguf"}"\n')
    assert limit_name(load_settings()) == "toolpanel-llm-local-qwen2-5-0-5b-instruct"
    Path("toolpanel.toml").unlink()

    monkeypatch.setenv("OPENAI_API_KEY", "k")
    assert limit_name(load_settings()) == "toolpanel-llm-api-openai-com"  # a key, no base_url: OpenAI
    for url, name in [("https://openrouter.ai/api/v1", "toolpanel-llm-openrouter-ai"),
                      ("http://127.0.0.1:11434/v1", "toolpanel-llm-localhost"),
                      ("http://localhost:8000/v1", "toolpanel-llm-localhost"),
                      ("https://gpu-box.lan:8443/v1", "toolpanel-llm-gpu-box-lan-8443"),
                      ("https://api.example.com:443/v1", "toolpanel-llm-api-example-com")]:
        monkeypatch.setenv("OPENAI_BASE_URL", url)
        assert limit_name(load_settings()) == name, url
