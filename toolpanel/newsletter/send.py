"""`newsletter send`: the week's message to every current subscriber not yet sent it, one SMTP transaction
per reader, each delivery recorded the moment the server answered (so a stop never loses who got it)."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import mailbox
import os
import smtplib
import socket
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from toolpanel.config import Settings
from toolpanel.errors import ConfigError, ExitCode, ToolpanelError
from toolpanel.newsletter.issue import Issue, compose, links_base, load_issue, sender
from toolpanel.newsletter.subscribers import record_delivery, subscribers, week_deliveries
from toolpanel.publish.render import env as site_env
from warehouse.store import Warehouse

PASSWORD_ENV = "TOOLPANEL_SMTP_PASSWORD"


class Refusal(BaseModel):
    """The server's no to one reader: deferred (4xx, tried again next send) or bounced (5xx)."""

    address: str
    status: Literal["deferred", "bounced"]
    code: int | None
    message: str

    def line(self) -> str:
        then = "marked bounced, not sent again" if self.status == "bounced" else "tried again next send"
        reply = f"{self.code} {self.message}" if self.code else self.message
        return f"{self.status} {self.address}: {reply} — {then}"


class SendReport(BaseModel):
    """What one `send` did (or, for a dry run, would do) for one week."""

    week: str
    dry_run: bool = False
    verdicts: int = 0  # tools in the week's message; 0: nothing is sent
    recipients: list[str] = []  # who is (or would be) sent the message this time
    sent: list[str] = []
    deferred: list[Refusal] = []  # 4xx: tried again on the next send
    bounced: list[Refusal] = []  # 5xx: the address is marked bounced and never sent to again
    already: int = 0  # current subscribers sent this week's message by an earlier send
    sample: str = ""  # a dry run without --out: the first message, as sent

    @property
    def exit_code(self) -> ExitCode:
        """1 when the server refused an address (deferred or bounced), else 0."""
        return ExitCode.REJECTED if self.deferred or self.bounced else ExitCode.OK

    def line(self) -> str:
        """The summary, e.g. "3 sent, 1 already sent for 2026-W49, 1 deferred (tried again next send)"."""
        if not self.verdicts:
            return f"nothing to send for {self.week}: no verdict was published that week"
        if self.dry_run:
            return f"dry run: would send {self.week} to {len(self.recipients)}, {self.already} already sent"
        parts = [f"{len(self.sent)} sent, {self.already} already sent for {self.week}"]
        if self.deferred:
            parts.append(f"{len(self.deferred)} deferred (tried again next send)")
        if self.bounced:
            parts.append(f"{len(self.bounced)} bounced (not sent again)")
        return ", ".join(parts)


class SmtpUnreachable(ToolpanelError):
    """The SMTP server could not be reached or dropped the connection (exit 3); deliveries so far are kept."""

    code = ExitCode.PROVIDER


def last_complete_week(settings: Settings, today: dt.date | None = None) -> str:
    """The ISO week before this one in `[flows] timezone`: what the weekly deployment sends (a Monday run
    would otherwise send the week that has just begun)."""
    from zoneinfo import ZoneInfo

    today = today or dt.datetime.now(ZoneInfo(settings.flows.timezone)).date()
    y, wk, _ = (today - dt.timedelta(days=7)).isocalendar()
    return f"{y}-W{wk:02d}"


def check_settings(settings: Settings, dry_run: bool) -> None:
    """What sending needs, before anything is read: host and From (a dry run needs only From), the password."""
    cfg, where = settings.newsletter, settings.config_path or "toolpanel.toml"
    examples = {"smtp_host": 'smtp_host = "smtp.example.com"', "from": 'from = "Panel <panel@example.com>"'}
    missing = [k for k, v in (("smtp_host", cfg.smtp_host or dry_run), ("from", cfg.sender)) if not v]
    if missing:
        raise ConfigError(f"[newsletter] {' and '.join(missing)} not set in {where}",
                          f"set {' and '.join(examples[k] for k in missing)} under [newsletter]")
    sender(cfg)
    if cfg.username and not dry_run and not os.environ.get(PASSWORD_ENV):
        raise ConfigError(f"[newsletter] username is set but {PASSWORD_ENV} is not",
                          f"export {PASSWORD_ENV}=… (the SMTP password is never read from {where})")


def send(settings: Settings, week: str | None = None, *, dry_run: bool = False, out: Path | None = None,
         progress: Callable[[str, Refusal | None], None] = lambda address, refused: None) -> SendReport:
    """Send `week` (default: the digest's, the newest verdict's week) to every current subscriber it was not
    sent to, calling `progress(address, refusal or None)` as each is recorded; a dry run sends nothing and
    writes the messages to `out` (an mbox) or keeps the first as `sample`."""
    check_settings(settings, dry_run)
    env = site_env()
    issue = load_issue(settings, env, week, links_base(settings, dry_run))
    store = Warehouse(settings.warehouse_path)
    report = SendReport(week=issue.week.label, dry_run=dry_run, verdicts=len(issue.week.events))
    if not report.verdicts:
        return report
    with contextlib.nullcontext() if dry_run else _one_sender(settings):  # who is left is read under the lock
        done = week_deliveries(store, issue.week.label)
        current = [s.address for s in subscribers(store)]
        report.already = sum(1 for a in current if done.get(a) == "sent")
        report.recipients = [a for a in current if done.get(a) != "sent"]  # deferred ones are tried again
        if dry_run:
            _dry_run(issue, env, settings, report, out)
        elif report.recipients:
            with _smtp(settings, report) as smtp:
                for address in report.recipients:
                    progress(address, _deliver(smtp, store, issue, env, settings, report, address))
    return report


def _dry_run(issue: Issue, env, settings: Settings, report: SendReport, out: Path | None) -> None:
    if out is None:
        if report.recipients:
            report.sample = compose(issue, env, settings.newsletter, report.recipients[0]).as_string()
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    box = mailbox.mbox(out)
    box.lock()
    try:
        box.clear()
        for address in report.recipients:
            box.add(compose(issue, env, settings.newsletter, address))
        box.flush()
    finally:
        box.unlock()
        box.close()


def _deliver(smtp: smtplib.SMTP, store: Warehouse, issue: Issue, env, settings: Settings, report: SendReport,
             address: str) -> Refusal | None:
    """One reader: sent, deferred (4xx) or bounced (5xx), recorded before the next one is tried."""
    cfg = settings.newsletter
    msg = compose(issue, env, cfg, address)
    try:
        smtp.send_message(msg, from_addr=sender(cfg).addr_spec, to_addrs=[address])
    except smtplib.SMTPRecipientsRefused as exc:
        code, text = exc.recipients.get(address, (None, b""))
        return _refused(store, report, address, code, text)
    except smtplib.SMTPSenderRefused as exc:  # MAIL FROM: a 4xx is for now (greylisting), a 5xx for good
        if exc.smtp_code < 500:
            return _refused(store, report, address, exc.smtp_code, exc.smtp_error)
        raise ConfigError(f"the SMTP server refused the From address {sender(cfg).addr_spec} ({exc.smtp_code} "
                          f"{_text(exc.smtp_error)})", "check [newsletter] from and what the account may send as") from None
    except smtplib.SMTPResponseException as exc:  # DATA refused: about this message to this reader
        return _refused(store, report, address, exc.smtp_code, exc.smtp_error)
    except smtplib.SMTPNotSupportedError as exc:  # an internationalised address the server cannot take
        return _refused(store, report, address, None, str(exc).encode(), status="deferred")
    except (smtplib.SMTPServerDisconnected, OSError) as exc:
        raise _unreachable(settings, report, exc) from None
    record_delivery(store, issue.week.label, address, "sent")
    report.sent.append(address)
    return None


def _refused(store: Warehouse, report: SendReport, address: str, code: int | None, text: bytes | str,
             status: str | None = None) -> Refusal:
    status = status or ("bounced" if code is not None and code >= 500 else "deferred")
    refusal = Refusal(address=address, status=status, code=code, message=_text(text))
    record_delivery(store, report.week, address, status, code, refusal.message)
    (report.bounced if status == "bounced" else report.deferred).append(refusal)
    return refusal


def _text(reply: bytes | str) -> str:
    return (reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply).strip()[:300]


def _unreachable(settings: Settings, report: SendReport, exc: Exception) -> SmtpUnreachable:
    cfg = settings.newsletter
    reason = str(exc) or exc.__class__.__name__
    kept = (f"; {len(report.sent) + report.already} deliveries of {report.week} are recorded, sending again "
            "delivers only the rest") if report.sent or report.already else ""
    return SmtpUnreachable(f"cannot reach the SMTP server {cfg.smtp_host}:{cfg.smtp_port} ({reason})",
                           f"check [newsletter] smtp_host and smtp_port in {settings.config_path or 'toolpanel.toml'} "
                           f"and that the server is up{kept}")


@contextlib.contextmanager
def _smtp(settings: Settings, report: SendReport):
    """An SMTP session: STARTTLS when configured, login when a username is set."""
    cfg = settings.newsletter
    try:
        # EHLO with this machine's name as it calls itself (smtplib's default would resolve it in DNS first)
        smtp = smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, local_hostname=socket.gethostname(), timeout=cfg.timeout)
    except (OSError, smtplib.SMTPException) as exc:
        raise _unreachable(settings, report, exc) from None
    try:
        if cfg.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if cfg.username:
            smtp.login(cfg.username, os.environ[PASSWORD_ENV])
    except smtplib.SMTPNotSupportedError as exc:
        smtp.close()
        raise ConfigError(f"the SMTP server {cfg.smtp_host}:{cfg.smtp_port} does not support it: {exc}",
                          "set [newsletter] starttls = false only for a relay on this machine, or leave username "
                          "empty when the server takes mail without a login") from None
    except smtplib.SMTPAuthenticationError as exc:
        smtp.close()
        raise ConfigError(f"the SMTP server refused the login of '{cfg.username}' ({exc.smtp_code})",
                          f"check [newsletter] username and {PASSWORD_ENV}") from None
    except (OSError, smtplib.SMTPException) as exc:
        smtp.close()
        raise _unreachable(settings, report, exc) from None
    try:
        yield smtp
    finally:
        with contextlib.suppress(OSError, smtplib.SMTPException):
            smtp.quit()
        smtp.close()


@contextlib.contextmanager
def _one_sender(settings: Settings):
    """One `send` at a time per TOOLPANEL_HOME (a scheduled run and a manual one must not both send)."""
    path = settings.home / "newsletter.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            pid = f.read().strip() or "?"
            raise ToolpanelError(f"another `newsletter send` is running (PID {pid})",
                                 "let it finish: it records each delivery, so a send after it reaches only who is left",
                                 code=ExitCode.WAREHOUSE_BUSY) from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
