"""`toolpanel serve`: the Prefect deployments and UI (flows/serve.py does the work)."""

from __future__ import annotations

from rich.markup import escape

from toolpanel.cli.console import app, err, fail, out
from toolpanel.cli.console import settings as _settings

ORDER = 50


@app.command()
def serve() -> None:
    """Serve the Prefect deployments (daily-review on its schedule, re-review for editors) and the UI.

    Starts a local Prefect server (under TOOLPANEL_HOME/prefect) on `[serve] port`, else on the first
    free port from 4200, remembered in TOOLPANEL_HOME/serve.json; unless PREFECT_API_URL is set.
    """
    from flows.serve import ServeError
    from flows.serve import serve as run_serve

    settings = _settings()
    try:
        run_serve(settings, echo=lambda m: out.print(escape(m)))
    except ServeError as exc:
        fail(exc)
    except KeyboardInterrupt:
        err.print("stopped")
