"""`toolpanel serve`'s port: configured, else first free from 4200 and remembered; a taken one in one line."""

from __future__ import annotations

import json
import socket

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
