"""The weekly digest (web and email), with why each changed verdict changed."""

from __future__ import annotations

import datetime as dt

import jinja2

from toolpanel.why.words import summary
from toolpanel.publish.render import STYLESHEET
from toolpanel.publish.writer import Writer


def digest(w: Writer, env: jinja2.Environment, events: list[dict], base: str, th: str, why=None) -> None:
    """This week's verdicts: the ISO week of the newest verdict (not the clock: same warehouse, same site)."""
    if events:
        y, wk, _ = events[0]["at"].isocalendar()
    else:
        y, wk = 1970, 1
    start = dt.date.fromisocalendar(y, wk, 1)
    end = start + dt.timedelta(days=6)
    week = f"{y}-W{wk:02d}"
    this = [e for e in events if start <= e["at"].date() <= end]
    latest_per_tool: dict[str, dict] = {}
    for e in this:
        latest_per_tool.setdefault(e["slug"], e)
    shown = sorted(latest_per_tool.values(), key=lambda e: (e["name"].lower(), e["slug"]))
    splits = sorted((e for e in shown if e["split"]), key=lambda e: (-(e["spread"] or 0), e["slug"]))[:5]
    changes = [e for e in shown if e["previous"] and e["previous"] != e["verdict"]]
    css = STYLESHEET.read_text()
    ctx = dict(week=week, start=start, end=end, events=shown, splits=splits, changes=changes, email_css=css, why={})
    tpl = env.get_template("digest.html.j2")
    # only what the digest shows: a community vote elsewhere must not re-render it
    fp = [th, base, week, [(e["id"], e["previous"], e["previous_id"], e["name"], e["tagline"]) for e in shown]]

    def render(**kw) -> str:
        if why is not None and changes and not ctx["why"]:  # each changed verdict says why (read once)
            ctx["why"] = {k: summary(c) for k, c in why([(e["previous_id"], e["id"]) for e in changes]).items()}
        return tpl.render(root="../", **kw, **ctx)

    w.page(f"digest/{week}.html", fp + ["web"], lambda: render(base="../", email=False))
    w.page(f"digest/{week}.email.html", fp + ["email"], lambda: render(base=base or "../", email=True))
    w.page("digest/index.html", fp + ["web"], lambda: render(base="../", email=False))
