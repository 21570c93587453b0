"""`toolpanel serve`: a local Prefect server (unless PREFECT_API_URL is set) serving the deployments."""

from __future__ import annotations

import asyncio
import os
import sys
from contextlib import contextmanager

from toolpanel.config import Settings
from toolpanel.servers import child_server, free_port

DAILY_CRON = "0 6 * * *"


class ServeError(Exception):
    pass


@contextmanager
def prefect_server(settings: Settings, port: int | None = None):
    """Start `prefect server start` on loopback with its SQLite database under TOOLPANEL_HOME/prefect."""
    port = port or free_port()
    home = settings.home / "prefect"
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_UI_ENABLED=os.environ.get("PREFECT_UI_ENABLED", "true"))
    env.pop("PREFECT_API_URL", None)
    api = f"http://127.0.0.1:{port}/api"
    with child_server([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                      health_url=f"{api}/health", log=settings.home / "logs" / "prefect-server.log", timeout=120,
                      what="the Prefect server", error=ServeError, env=env, stop_timeout=20):
        yield api


def deployments(settings: Settings) -> list:
    from prefect.schedules import Cron

    from flows.queue import review_queue
    from flows.reviews import daily_review, publish, re_review

    cfg = settings.flows
    cron = cfg.get("daily_cron", DAILY_CRON)
    tz = cfg.get("timezone", "UTC")
    return [
        daily_review.to_deployment(name="daily", schedules=[Cron(cron, timezone=tz)], tags=["toolpanel"],
                                   description=f"Reviews new and changed tools every day ({cron} {tz})."),
        re_review.to_deployment(name="editor", tags=["toolpanel", "editor"],
                                description="Re-review tools with a reason, a persona subset or another model."),
        publish.to_deployment(name="site", tags=["toolpanel"],
                              description="Re-render the site from the warehouse (full=true rewrites every page)."),
        review_queue.to_deployment(name="editor", tags=["toolpanel", "editor"],
                                   description="A form over every held verdict: approve, reject or re-review each."),
    ]


def serve(settings: Settings, echo=print) -> None:
    """Register and serve the deployments; Ctrl-C stops what this started."""
    with contextlib_nullable(not os.environ.get("PREFECT_API_URL"), settings) as api:
        if api:
            os.environ["PREFECT_API_URL"] = api  # flow-run subprocesses inherit it
        api = os.environ["PREFECT_API_URL"]
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: api}):
            from flows.limits import ensure_limit, limit_name
            from prefect import serve as prefect_serve

            asyncio.run(ensure_limit(settings))
            echo(f"Prefect UI: {api.removesuffix('/api')}   (API {api})")
            echo(f"global concurrency limit '{limit_name(settings)}' = {settings.concurrency}")
            prefect_serve(*deployments(settings), print_starting_message=True)


@contextmanager
def contextlib_nullable(start: bool, settings: Settings):
    if not start:
        yield None
        return
    with prefect_server(settings) as api:
        yield api
