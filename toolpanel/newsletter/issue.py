"""The week's message: the digest's own selection and templates (toolpanel.publish.digest) as an email with a
text and an HTML part, links under `[publish] base_url`, and the headers a list message carries."""

from __future__ import annotations

import datetime as dt
from email.headerregistry import Address, HeaderRegistry
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from urllib.parse import quote

import jinja2
from pydantic import BaseModel

from toolpanel.config import Settings
from toolpanel.errors import ConfigError
from toolpanel.panel.personas import load_personas
from toolpanel.publish.data import load_site_data
from toolpanel.publish.digest import Week, context, render_html, select_week, why_sentences
from toolpanel.publish.feeds import events_of
from toolpanel.publish.site import comparison_pairs, pair_pages
from toolpanel.sections import NewsletterSettings
from warehouse.changes import explain_pairs
from warehouse.store import Warehouse

SUBJECT = "Weekly AI Tool Verdicts — {week}"


class Issue(BaseModel):
    """One week's newsletter before it is addressed: the digest's week, its "why" sentences, where links
    point, and the HTML part (the same for every reader)."""

    week: Week
    why: dict[str, str]
    base: str  # ends in "/": [publish] base_url, or the local site's file:// address for a dry run
    html: str


def links_base(settings: Settings, dry_run: bool) -> str:
    """Where the email's links point: `[publish] base_url`. A dry run without one links the local site."""
    if settings.publish.root:
        return settings.publish.root
    if dry_run:
        return settings.site_dir.resolve().as_uri() + "/"
    raise ConfigError(f"[publish] base_url is empty in {settings.config_path or 'toolpanel.toml'}: a newsletter's "
                      "links need the site's public address",
                      'set [publish] base_url = "https://example.com/panel/" (--dry-run works without it)')


def load_issue(settings: Settings, env: jinja2.Environment, week: str | None, base: str) -> Issue:
    """Read what is published (one short read of the warehouse) and render the week's HTML part."""
    store = Warehouse(settings.warehouse_path)
    if not settings.warehouse_path.exists():
        raise ConfigError(f"{settings.warehouse_path}: no warehouse yet", "review some tools first "
                          "(toolpanel review examples/tools), then publish")
    personas = load_personas(settings.personas_dir)
    with store.connect() as con:
        data = load_site_data(con, personas, stale_run_minutes=settings.flows.stale_run_minutes)
    pairs, _ = comparison_pairs(data, settings.publish.pairs)
    chosen = select_week(events_of(data), week, pair_pages(data.tools, pairs))
    why = why_sentences(chosen, lambda p: explain_pairs(store, p, personas))
    return Issue(week=chosen, why=why, base=base, html=render_html(env, chosen, why, base=base, root=base, email=True))


def unsubscribe_links(cfg: NewsletterSettings, to: str) -> tuple[str, str | None]:
    """(mailto: the From address with subject "unsubscribe", the one-click https link or None)."""
    mailto = f"mailto:{sender(cfg).addr_spec}?subject=unsubscribe"
    if not cfg.unsubscribe_url:
        return mailto, None
    joiner = "&" if "?" in cfg.unsubscribe_url else "?"
    return mailto, f"{cfg.unsubscribe_url}{joiner}email={quote(to, safe='')}"


def sender(cfg: NewsletterSettings) -> Address:
    """`[newsletter] from` ("Name <address>" or an address) as a header address."""
    header = HeaderRegistry()("From", cfg.sender)
    if len(header.addresses) != 1 or not header.addresses[0].domain or header.defects:
        raise ConfigError(f"[newsletter] from = '{cfg.sender}' is not one address",
                          'write it as from = "Panel verdicts <panel@example.com>"')
    return header.addresses[0]


def compose(issue: Issue, env: jinja2.Environment, cfg: NewsletterSettings, to: str) -> EmailMessage:
    """The message to one reader: text and HTML alternatives, List-Unsubscribe (and one-click -Post when
    `unsubscribe_url` is set)."""
    mailto, https = unsubscribe_links(cfg, to)
    text = env.get_template("digest.txt.j2").render(**context(issue.week, issue.why, issue.base),
                                                    unsubscribe=https or mailto)
    frm = sender(cfg)
    msg = EmailMessage()
    msg["Subject"] = SUBJECT.format(week=issue.week.label)
    msg["From"] = frm
    msg["To"] = to
    msg["Date"] = format_datetime(dt.datetime.now(dt.timezone.utc))
    msg["Message-ID"] = make_msgid("newsletter", domain=frm.domain)
    msg["List-Unsubscribe"] = ", ".join(f"<{u}>" for u in (mailto, https) if u)
    if https:
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(text)
    msg.add_alternative(issue.html, subtype="html")
    return msg
