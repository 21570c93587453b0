"""`toolpanel serve`'s port: configured, else first free from 4200 and remembered; a taken one in one line.
How it stops on a signal (flows/serving.py); the real thing end to end: tests/test_prefect_e2e.py."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import types

import pytest

from tests.helpers import cli


def _settings(tp_home, toml: str = ""):
    from toolpanel.config import load_settings

    (tp_home.parent / "toolpanel.toml").write_text(toml)
    return load_settings()


def test_first_free_port_from_4200_is_chosen_once_and_remembered(tp_home):
    from flows.serve import choose_port, port_free

    settings = _settings(tp_home)
    expected = next(p for p in range(4200, 4300) if port_free(p))
    assert choose_port(settings) == expected
    assert json.loads((tp_home / "serve.json").read_text()) == {"port": expected}
    assert choose_port(settings) == expected  # the bookmark keeps working


def test_configured_port_wins(tp_home):
    from flows.serve import choose_port

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    assert choose_port(_settings(tp_home, f"[serve]\nport = {free}\n")) == free
    assert not (tp_home / "serve.json").exists()


def test_taken_port_is_said_in_one_line_with_the_fix(tp_home):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        (tp_home.parent / "toolpanel.toml").write_text(f"[serve]\nport = {port}\n")
        r = cli("serve", env={"TOOLPANEL_HOME": str(tp_home)}, cwd=tp_home.parent)
    assert r.returncode == 2
    assert r.stderr.strip() == (f"error: port {port} ([serve] port in {tp_home.parent / 'toolpanel.toml'}) is taken "
                                "— stop the program using it, or set [serve] port to a free port")


@pytest.mark.parametrize("toml, message", [
    ("[serve]\nprot = 4300\n", "[serve]: unknown key 'prot' (allowed: port)"),
    ("[serve]\nport = 99999\n", "[serve] port: Input should be less than or equal to 65535"),
    ("[flows]\ntask_retry = 2\n", "[flows]: unknown key 'task_retry' (allowed: daily_cron, timezone, task_retries, "
                                   "retry_delay_seconds, editor_reserve, tools_per_task, max_stale_per_run, stale_run_minutes, newsletter_cron)"),
])
def test_serve_and_flows_settings_mistakes_name_the_key(tp_home, toml, message):
    from toolpanel.errors import ConfigError

    with pytest.raises(ConfigError) as exc:
        _settings(tp_home, toml)
    assert message in str(exc.value)


# -- stopping (flows/serving.py), with a stand-in for Prefect's runner: no server, no process ----------------


class _Runner:
    """What flows/serving.py uses of `prefect.runner.Runner`. Once serving it signals its own process with
    `sig` (as a terminal's Ctrl-C would); `astop` ends `start` unless `stuck`, and ending pauses the schedules."""

    stuck = False
    sig = signal.SIGINT

    def __init__(self, pause_on_shutdown: bool):
        assert pause_on_shutdown
        self.started = self.stopping = False
        self.deployments, self.events = [], []
        _Runner.last = self

    def add_deployment(self, deployment) -> None:
        self.deployments.append(deployment)

    async def start(self) -> None:
        signal.signal(signal.SIGTERM, self.handle_sigterm)  # as Prefect's Runner.start does
        self.ended = asyncio.Event()
        self.started = True
        asyncio.get_running_loop().call_later(0.05, signal.raise_signal, self.sig)
        await self.ended.wait()
        self.events.append("schedules paused")

    async def astop(self) -> None:
        self.stopping = True
        self.events.append("astop")
        if not self.stuck:
            self.ended.set()

    def handle_sigterm(self, *args) -> None:  # Prefect's own; flows/serving.py replaces it
        raise AssertionError("Prefect's SIGTERM handler ran")


@pytest.fixture
def runner(monkeypatch):
    import prefect.runner

    from flows import serving

    monkeypatch.setattr(prefect.runner, "Runner", _Runner)
    killed = []
    monkeypatch.setattr(serving, "end_flow_runs", lambda echo: killed.append("flow runs"))
    monkeypatch.setattr(serving._Stopper, "_last_resort", lambda self: None)  # never os._exit in pytest
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield killed
    for sig, handler in handlers.items():
        signal.signal(sig, handler)
    _Runner.stuck, _Runner.sig = False, signal.SIGINT


DEPLOYMENTS = [types.SimpleNamespace(flow_name="daily-review", name="daily")]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_runner_gracefully_even_with_sigint_ignored_at_start(runner, sig):
    from flows.serving import run_deployments

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a shell starts `toolpanel serve &` from a script
    _Runner.sig = sig
    lines: list[str] = []
    assert run_deployments(DEPLOYMENTS, echo=lines.append) is True
    assert _Runner.last.events == ["astop", "schedules paused"]
    assert "  daily-review/daily" in lines and f"{sig.name}: stopping the deployments (again: stop at once)" in lines
    assert runner == ["flow runs"]  # then whatever the runner left running is ended
    assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN  # the handlers it found are back


def test_a_runner_that_does_not_stop_is_not_waited_for(runner):
    from flows.serving import run_deployments

    _Runner.stuck = True
    lines: list[str] = []
    assert run_deployments(DEPLOYMENTS, echo=lines.append, grace=0.2) is False
    assert _Runner.last.events == ["astop"]
    assert any(line.startswith("Prefect's runner did not stop within 0.2 s") for line in lines), lines
    assert runner == ["flow runs"]
