"""`toolpanel serve`: a local Prefect server (unless PREFECT_API_URL is set) serving the deployments.

The server gets a stable port (`[serve] port`, else the first free one from 4200, remembered in
TOOLPANEL_HOME/serve.json) and tells its UI that address (`PREFECT_UI_API_URL`): without it the UI
asks 127.0.0.1:4200 whatever port the server really listens on. Everything Prefect writes (its
database, result storage, pickled exceptions of failed runs) lives under TOOLPANEL_HOME/prefect.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

from flows import serving
from toolpanel.config import Settings
from toolpanel.errors import ConfigError
from toolpanel.servers import child_server

FIRST_PORT = 4200
PORT_FILE = "serve.json"


class ServeError(ConfigError):
    """`toolpanel serve` cannot start (exit 2): a taken port, a server that never answered."""


def prefect_env(settings: Settings) -> dict[str, str]:
    """Prefect settings that keep its files under TOOLPANEL_HOME/prefect (never ~/.prefect)."""
    home = settings.home / "prefect"
    return {"PREFECT_HOME": str(home), "PREFECT_LOCAL_STORAGE_PATH": str(home / "storage"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is not "taken"
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def choose_port(settings: Settings) -> int:
    """`[serve] port`, else the port remembered in serve.json, else the first free one from 4200 (remembered)."""
    remembered = settings.home / PORT_FILE
    if settings.serve.port:
        port, origin = settings.serve.port, f"[serve] port in {settings.config_path or 'toolpanel.toml'}"
        fix = "stop the program using it, or set [serve] port to a free port"
    else:
        try:
            port = int(json.loads(remembered.read_text("utf-8"))["port"])
        except (OSError, ValueError, KeyError, TypeError):
            port = next((p for p in range(FIRST_PORT, FIRST_PORT + 100) if port_free(p)), None)
            if port is None:
                raise ServeError(f"no free port in {FIRST_PORT}-{FIRST_PORT + 99}",
                                 "set [serve] port = PORT in toolpanel.toml") from None
            remembered.parent.mkdir(parents=True, exist_ok=True)
            remembered.write_text(json.dumps({"port": port}) + "\n", "utf-8")
            return port
        origin = f"remembered in {remembered}"
        fix = f"stop the program using it (another toolpanel serve?), or set [serve] port = {port + 1} in toolpanel.toml"
    if not port_free(port):
        raise ServeError(f"port {port} ({origin}) is taken", fix)
    return port


@contextmanager
def prefect_server(settings: Settings, port: int | None = None):
    """Start `prefect server start` on loopback; its UI talks to this server's own API address.

    In its own session: a Ctrl-C in the terminal reaches `toolpanel serve` alone, which pauses the schedules
    through this server before stopping it (SIGTERM; SIGKILL after 10 s)."""
    port = port or choose_port(settings)
    api = f"http://127.0.0.1:{port}/api"
    env = dict(os.environ, **prefect_env(settings), PREFECT_UI_API_URL=api,
               PREFECT_UI_ENABLED=os.environ.get("PREFECT_UI_ENABLED", "true"))
    Path(env["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    env.pop("PREFECT_API_URL", None)
    with child_server([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                      health_url=f"{api}/health", log=settings.home / "logs" / "prefect-server.log", timeout=120,
                      what="the Prefect server", error=ServeError, env=env, stop_timeout=10,
                      own_session=True):
        yield api


def deployments(settings: Settings) -> list:
    from prefect.schedules import Cron

    from flows.newsletter import newsletter
    from flows.queue import review_queue
    from flows.reviews import daily_review, publish, re_review

    cron, tz, weekly = settings.flows.daily_cron, settings.flows.timezone, settings.flows.newsletter_cron
    return [
        daily_review.to_deployment(name="daily", schedules=[Cron(cron, timezone=tz)], tags=["toolpanel"],
                                   description=f"Reviews new and changed tools every day ({cron} {tz})."),
        re_review.to_deployment(name="re-review", tags=["toolpanel", "editor"],
                                description="Re-review tools with a reason, a persona subset or another model."),
        publish.to_deployment(name="site", tags=["toolpanel"],
                              description="Re-render the site from the warehouse (full=true rewrites every page)."),
        review_queue.to_deployment(name="review-queue", tags=["toolpanel", "editor"],
                                   description="A form over every held verdict: approve, reject or re-review each."),
        newsletter.to_deployment(name="newsletter", schedules=[Cron(weekly, timezone=tz)], tags=["toolpanel"],
                                 description=f"Emails last week's verdicts to the subscribers ({weekly} {tz})."),
    ]


def serve(settings: Settings, echo=print) -> None:
    """Register and serve the deployments; Ctrl-C stops what this started: the runner (schedules paused),
    then the server, within seconds (flows/serving.py)."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # started as `toolpanel serve &` by a script
    os.environ.update(prefect_env(settings))  # this process and the flow-run subprocesses it starts
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    external = os.environ.get("PREFECT_API_URL")
    with (_nothing() if external else prefect_server(settings)) as api:
        api = external or api
        os.environ["PREFECT_API_URL"] = api
        from prefect.settings import (PREFECT_API_URL, PREFECT_HOME, PREFECT_LOCAL_STORAGE_PATH,
                                      temporary_settings)

        updates = {PREFECT_API_URL: api, PREFECT_HOME: os.environ["PREFECT_HOME"],
                   PREFECT_LOCAL_STORAGE_PATH: os.environ["PREFECT_LOCAL_STORAGE_PATH"]}
        with temporary_settings(updates=updates):
            from flows.limits import ensure_limit, limit_name

            asyncio.run(ensure_limit(settings))
            ui = api.removesuffix("/api")
            echo(f"Prefect UI: {ui}   (API {api})")
            echo(f"Editors: {ui}/deployments — open 're-review/re-review', then Run › Custom run; held verdicts "
                 "wait in 'review-queue/review-queue' runs")
            echo(f"global concurrency limit '{limit_name(settings)}' = {settings.concurrency}")
            complete = serving.run_deployments(deployments(settings), echo=echo)
    echo("stopped: " + ("the schedules are paused" if complete else "the schedules may still be active")
         + ("" if external else ", the Prefect server is stopped"))


@contextmanager
def _nothing():
    yield None
