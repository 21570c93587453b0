"""The weekly newsletter as an operator runs it (real `toolpanel` subprocesses) against a real SMTP server on
loopback (aiosmtpd): both parts, List-Unsubscribe, the week's tools and links; a second send delivers nothing;
4xx is retried, 5xx bounces; a malformed address and a stopped server each give one line and their exit code."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import mailbox
import os
import re
import socket
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from tests.fake_model import take
from tests.helpers import PERSONA_IDS, SEED_A, SEED_B, cli, rows
from tests.test_panel import review
from tests.test_publish import Page

BASE = "https://panel.example.com/reviews/"
UNSUB = "https://panel.example.com/unsubscribe"
WEEK = "{0}-W{1:02d}".format(*dt.datetime.now(dt.timezone.utc).isocalendar()[:2])
A, B, C = "ada@example.com", "bob@example.org", "cy@example.net"


class Inbox:
    """The SMTP server's handler: records every message; `refuse[address]` answers that RCPT with a reply
    such as "450 ..." or "550 ..."; `drop` closes the connection at that RCPT (a server going away)."""

    def __init__(self):
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self.refuse: dict[str, str] = {}
        self.drop: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.drop:
            server.transport.close()
            return "421 going away"
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), msg))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for rcpts, m in self.messages if address in rcpts]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Smtp:
    """An aiosmtpd server on loopback that can be stopped and started again on the same port."""

    def __init__(self, **kw):
        self.inbox, self.port, self.kw = Inbox(), _free_port(), kw
        self.controller: Controller | None = None

    def start(self) -> "Smtp":
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **self.kw)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp():
    server = Smtp().start()
    yield server
    server.stop()


def config(port: int, extra: str = "") -> str:
    return ("[hold]\nsplit = false\nswing_pct = false\n"
            f'[publish]\nbase_url = "{BASE}"\npairs = [["smolvlm2-turbo", "openrouter-model-fusion"]]\n'
            f'[newsletter]\nsmtp_host = "127.0.0.1"\nsmtp_port = {port}\nfrom = "Panel verdicts <panel@example.com>"\n'
            f'starttls = false\nunsubscribe_url = "{UNSUB}"\ntimeout = 10\n{extra}')


@pytest.fixture
def week(fake_model, tp_home, tmp_path, smtp):
    """Two new verdicts and one changed (ship -> skip, with its why) published this week."""
    (tmp_path / "toolpanel.toml").write_text(config(smtp.port))
    card = tmp_path / "cards" / SEED_A.name
    card.parent.mkdir()
    card.write_text(SEED_A.read_text())
    for p in PERSONA_IDS:  # per persona: another call (a chair's summary, say) never takes a persona's reply
        fake_model.enqueue(p, take(score=80, verdict="ship"), take(score=80, verdict="ship"))
    review([card, SEED_B])
    card.write_text(card.read_text().rstrip() + "\n\nNow it only runs on one phone model, sold separately.\n")
    for p in ("builder", "skeptic", "founder"):
        fake_model.enqueue(p, take(score=45, verdict="skip"))
    review([card])
    published = rows(tp_home / "warehouse.duckdb", "SELECT slug, verdict FROM published_history ORDER BY created_at")
    assert published == [("smolvlm2-turbo", "ship"), ("openrouter-model-fusion", "ship"), ("smolvlm2-turbo", "skip")]
    return smtp


def tp(*args: str, cwd: Path, env: dict | None = None):
    return cli("newsletter", *args, cwd=cwd, env=env)


def deliveries(home: Path) -> list[tuple]:
    return rows(home / "warehouse.duckdb", "SELECT address, status, smtp_code FROM newsletter_deliveries "
                                           "ORDER BY created_at, address")


def test_send_two_parts_with_unsubscribe_the_weeks_tools_and_links_then_nothing_twice(week, tp_home, tmp_path):
    for a in (A, B.upper()):
        assert tp("subscribe", a, cwd=tmp_path).returncode == 0
    r = tp("send", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"2 sent, 0 already sent for {WEEK}" in r.stdout
    [msg] = week.inbox.to(A)
    assert msg["Subject"] == f"Weekly AI Tool Verdicts — {WEEK}"
    assert msg["From"] == "Panel verdicts <panel@example.com>" and msg["To"] == A
    assert msg.get_content_type() == "multipart/alternative"
    assert msg["List-Unsubscribe"] == (f"<mailto:panel@example.com?subject=unsubscribe>, "
                                       f"<{UNSUB}?email=ada%40example.com>")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = msg.get_body(("html",)).get_content()
    for part in (text, html):
        assert "SmolVLM2 Turbo" in part and "OpenRouter Model Fusion" in part
        assert f"{BASE}tools/smolvlm2-turbo.html" in part and f"{BASE}tools/openrouter-model-fusion.html" in part
        assert "went ship → skip" in part  # the changed verdict says why
    assert "Changed verdicts\n- SmolVLM2 Turbo: Ship → Skip" in text
    # each verdict with its confidence band (scoring/band.py), in both parts: "verdict (band)" in lines, a column
    assert "New verdicts\n- OpenRouter Model Fusion: Ship · 5 ship / 0 skip (Unanimous), panel ship 100%" in text
    assert "Changed verdicts\n- SmolVLM2 Turbo: Ship → Skip · 1 ship / 4 skip (Clear). " in text
    words = Page(html).text
    assert "Changed verdicts SmolVLM2 Turbo : Ship → Skip · 1 ship / 4 skip (Clear). " in words
    assert ("All verdicts Tool Panel Confidence Panel ship Best for OpenRouter Model Fusion Ship · 5 ship / 0 skip "
            "Unanimous 100% ") in words
    assert "SmolVLM2 Turbo Skip · 1 ship / 4 skip Clear 20% " in words
    assert f"SmolVLM2 Turbo vs OpenRouter Model Fusion: which one to ship with?\n  {BASE}compare/" in text
    assert "This week's comparisons" in html and f'href="{BASE}compare/' in html  # the HTML part lists them too
    assert f"Unsubscribe: {UNSUB}?email=ada%40example.com" in text
    assert "<style>" in html and "<link" not in html  # the digest's own email version
    assert [m["To"] for m in week.inbox.to(B)] == [B]  # stored as one spelling, sent once

    again = tp("send", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert f"0 sent, 2 already sent for {WEEK}" in again.stdout
    assert len(week.inbox.messages) == 2
    assert deliveries(tp_home) == sorted([(A, "sent", None), (B, "sent", None)])


def test_4xx_is_tried_again_next_send_5xx_bounces_for_good_and_nobody_gets_it_twice(week, tp_home, tmp_path):
    for a in (A, B, C):
        tp("subscribe", a, cwd=tmp_path)
    week.inbox.refuse = {A: "450 4.2.1 Mailbox busy, try later", B: "550 5.1.1 No such user"}
    r = tp("send", cwd=tmp_path)
    assert r.returncode == 1
    assert f"1 sent, 0 already sent for {WEEK}, 1 deferred (tried again next send), 1 bounced (not sent again)" in r.stdout
    assert f"deferred {A}: 450 4.2.1 Mailbox busy, try later — tried again next send" in r.stderr
    assert f"bounced {B}: 550 5.1.1 No such user — marked bounced, not sent again" in r.stderr
    listed = tp("list", "--all", cwd=tmp_path).stdout
    assert "bob@example.org  bounced" in listed and "2 subscribers" in listed

    week.inbox.refuse = {}
    r = tp("send", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"1 sent, 1 already sent for {WEEK}" in r.stdout
    assert tp("send", cwd=tmp_path).stdout.strip().endswith(f"0 sent, 2 already sent for {WEEK}")
    assert {a: len(week.inbox.to(a)) for a in (A, B, C)} == {A: 1, B: 0, C: 1}
    assert deliveries(tp_home) == [(A, "deferred", 450), (B, "bounced", 550), (C, "sent", None), (A, "sent", None)]
    assert rows(tp_home / "warehouse.duckdb", "SELECT event, source, detail FROM subscriber_events "
                                              "WHERE address = ? ORDER BY created_at", [B]) == [
        ("subscribed", "cli", None), ("bounced", "smtp", "550 5.1.1 No such user")]


def test_a_malformed_address_exits_1_with_one_line_naming_it(tp_home, tmp_path):
    r = tp("subscribe", "not-an-email", cwd=tmp_path)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.splitlines() == ["error: not-an-email: not a valid email address (An email address must have "
                                     "an @-sign.) — check the spelling"]
    r = tp("unsubscribe", "ada@@example.com", cwd=tmp_path)
    assert r.returncode == 1 and len(r.stderr.splitlines()) == 1 and "error: ada@@example.com: " in r.stderr


def test_a_stopped_server_exits_3_with_one_line_and_keeps_who_was_sent(week, tp_home, tmp_path):
    tp("subscribe", A, cwd=tmp_path)
    assert tp("send", cwd=tmp_path).returncode == 0
    for a in (B, C):
        tp("subscribe", a, cwd=tmp_path)
    week.inbox.drop = {C}  # the server goes away in the middle of the run: B was sent, C not
    r = tp("send", cwd=tmp_path)
    assert r.returncode == 3
    [line] = r.stderr.splitlines()
    assert line.startswith(f"error: cannot reach the SMTP server 127.0.0.1:{week.port} (")
    assert ("— check [newsletter] smtp_host and smtp_port in " in line
            and f"and that the server is up; 2 deliveries of {WEEK} are recorded, sending again delivers only the rest"
            in line)
    week.stop()
    r = tp("send", cwd=tmp_path)
    assert r.returncode == 3
    assert r.stderr.splitlines() == [
        f"error: cannot reach the SMTP server 127.0.0.1:{week.port} ([Errno 111] Connection refused) — check "
        f"[newsletter] smtp_host and smtp_port in {tmp_path}/toolpanel.toml and that the server is up; 2 deliveries "
        f"of {WEEK} are recorded, sending again delivers only the rest"]
    assert deliveries(tp_home) == [(A, "sent", None), (B, "sent", None)]

    week.inbox.drop = set()
    week.start()
    r = tp("send", cwd=tmp_path)
    assert r.returncode == 0 and f"1 sent, 2 already sent for {WEEK}" in r.stdout
    assert {a: len(week.inbox.to(a)) for a in (A, B, C)} == {A: 1, B: 1, C: 1}


def test_import_csv_keeps_good_rows_and_names_each_bad_line(tp_home, tmp_path):
    tp("subscribe", "gone@example.com", cwd=tmp_path)
    tp("unsubscribe", "gone@example.com", cwd=tmp_path)
    f = tmp_path / "readers.csv"
    f.write_text("name,Email,signed up\nAda,ada@example.com,2026\n\nBob,not-an-email,2026\nCy,,2026\n"
                 'Dee,"dee@example.com",x\nAda again,ADA@example.com,\nGone,gone@example.com,\nEve,eve@exam ple.com\n',
                 encoding="utf-8")
    r = tp("import", str(f), cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.splitlines() == [
        f"rejected {f}:4: not-an-email: not a valid email address (An email address must have an @-sign.) — check "
        "the spelling",
        f"rejected {f}:5: no address in the `email` column — fill it in or remove the row",
        f"rejected {f}:9: eve@exam ple.com: not a valid email address (The part after the @-sign contains invalid "
        "characters: SPACE.) — check the spelling"]
    assert r.stdout.strip() == ("imported 2 subscribers, 1 already subscribed, 1 skipped (unsubscribed or bounced "
                                "earlier), rejected 3")
    import json

    listed = json.loads(tp("list", "--json", cwd=tmp_path).stdout)
    assert [(s["address"], s["source"]) for s in listed] == [(A, "csv:readers.csv"), ("dee@example.com", "csv:readers.csv")]
    bad = tmp_path / "bad.csv"
    bad.write_text("address\nada@example.com\n")
    r = tp("import", str(bad), cwd=tmp_path)
    assert r.returncode == 1 and r.stderr.splitlines() == [
        f"rejected {bad}:1: columns are address — the first line must name the columns, one of them `email`"]


def test_dry_run_lists_who_and_writes_the_messages_sending_nothing(week, tp_home, tmp_path):
    for a in (A, B):
        tp("subscribe", a, cwd=tmp_path)
    r = tp("send", "--dry-run", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"would send to {A}\nwould send to {B}\n--- the message to {A} ---" in r.stdout
    sample = r.stdout.split(f"--- the message to {A} ---\n", 1)[1].rsplit("\ndry run: ", 1)
    assert sample[1].strip() == f"would send {WEEK} to 2, 0 already sent"
    msg = email.message_from_string(sample[0], policy=email.policy.default)
    assert msg["To"] == A and msg["Subject"] == f"Weekly AI Tool Verdicts — {WEEK}"
    assert f"{BASE}tools/smolvlm2-turbo.html" in msg.get_body(("plain",)).get_content()
    out = tmp_path / "out" / "week.mbox"
    r = tp("send", "--dry-run", "--out", str(out), cwd=tmp_path)
    assert r.returncode == 0 and f"wrote 2 messages to {out}" in r.stdout
    assert [m["To"] for m in mailbox.mbox(out)] == [A, B]
    assert week.inbox.messages == [] and deliveries(tp_home) == []


def test_weeks_and_settings_mistakes_are_one_line_each(week, tp_home, tmp_path):
    tp("subscribe", A, cwd=tmp_path)
    r = tp("send", "--week", "2026-49", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.splitlines() == [
        "error: field 'week': '2026-49' is not an ISO week — write it as YYYY-Www, e.g. 2026-W49"]
    r = tp("send", "--week", "2001-W05", cwd=tmp_path)
    assert r.returncode == 0 and "nothing to send for 2001-W05: no verdict was published that week" in r.stdout
    toml = tmp_path / "toolpanel.toml"
    toml.write_text(config(week.port).replace('smtp_host = "127.0.0.1"', 'smtp_host = ""'))
    r = tp("send", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.splitlines() == [
        f"error: [newsletter] smtp_host not set in {toml} — set smtp_host = \"smtp.example.com\" under [newsletter]"]
    assert tp("send", "--dry-run", cwd=tmp_path).returncode == 0  # a dry run needs no server
    toml.write_text(config(week.port, 'username = "panel"\n'))
    env = {k: v for k, v in os.environ.items() if k != "TOOLPANEL_SMTP_PASSWORD"}
    r = cli("newsletter", "send", cwd=tmp_path, env=env)
    assert r.returncode == 2 and r.stderr.splitlines() == [
        "error: [newsletter] username is set but TOOLPANEL_SMTP_PASSWORD is not — export TOOLPANEL_SMTP_PASSWORD=… "
        f"(the SMTP password is never read from {toml})"]
    toml.write_text(config(week.port).replace("starttls = false", "starttls = true"))
    r = tp("send", cwd=tmp_path)
    assert r.returncode == 2 and "does not support it: STARTTLS extension not supported by server." in r.stderr
    toml.write_text(config(week.port).replace(f'unsubscribe_url = "{UNSUB}"', ""))
    assert tp("send", cwd=tmp_path).returncode == 0
    [msg] = week.inbox.to(A)
    assert msg["List-Unsubscribe"] == "<mailto:panel@example.com?subject=unsubscribe>"
    assert msg["List-Unsubscribe-Post"] is None
    assert deliveries(tp_home) == [(A, "sent", None)]


def test_login_uses_the_password_from_the_environment(fake_model, tp_home, tmp_path):
    from aiosmtpd.smtp import AuthResult

    seen = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        seen.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret", handled=False)

    server = Smtp(authenticator=authenticator, auth_require_tls=False, auth_exclude_mechanism=["LOGIN"]).start()
    try:
        (tmp_path / "toolpanel.toml").write_text(config(server.port, 'username = "panel"\n'))
        review([SEED_A])
        tp("subscribe", A, cwd=tmp_path)
        r = tp("send", cwd=tmp_path, env={"TOOLPANEL_SMTP_PASSWORD": "wrong"})
        assert r.returncode == 2 and "error: the SMTP server refused the login of 'panel' (535)" in r.stderr
        r = tp("send", cwd=tmp_path, env={"TOOLPANEL_SMTP_PASSWORD": "s3cret"})
        assert r.returncode == 0, r.stderr
        assert seen == [(b"panel", b"wrong"), (b"panel", b"s3cret")] and len(server.inbox.to(A)) == 1
    finally:
        server.stop()


def test_subscribers_stay_out_of_the_analyst_snapshot(tp_home):
    from toolpanel.config import load_settings
    from toolpanel.newsletter.subscribers import subscribe
    from warehouse.store import Warehouse

    settings = load_settings()
    store = Warehouse(settings.warehouse_path)
    subscribe(store, "private.reader@example.com")
    with store.transaction() as con:  # a list large enough to fill whole blocks, then dropped in the copy
        con.execute("INSERT INTO subscriber_events SELECT 'se_' || range, 'qz' || md5(range::VARCHAR)[:8] || "
                    "'@readers.example', 'subscribed', 'csv:big.csv', NULL, now() FROM range(30000)")
    snap = store.publish_snapshot(settings.snapshot_path)
    names = {r[0] for r in rows(snap, "SELECT table_name FROM information_schema.tables")}
    assert not names & {"subscriber_events", "newsletter_deliveries", "subscribers"}
    assert {"takes", "verdicts", "latest_verdicts"} <= names
    whole, copy = settings.warehouse_path.read_bytes(), snap.read_bytes()
    fragment = re.compile(rb"qz[0-9a-f]{6}")  # what DuckDB's string compression leaves readable of an address
    assert b"private.reader" in whole and fragment.search(whole)  # the warehouse keeps them...
    assert b"private.reader" not in copy and not fragment.search(copy)  # ...the analysts' copy not a trace
    assert rows(settings.warehouse_path, "SELECT count(*) FROM subscribers")[0][0] == 30001


# -- addresses and CSV rows the rules were not written from ------------------------------------------------------


@hsettings(max_examples=150, deadline=None)
@given(st.emails())
def test_every_valid_address_normalises_to_one_stable_lower_case_spelling(address):
    from toolpanel.newsletter.addresses import AddressError, normalise

    try:
        once = normalise(address)
    except AddressError as exc:  # hypothesis' grammar is wider than what mail systems take (e.g. reserved names)
        assert str(exc).startswith(f"{address}: not a valid email address (") or len(address) > 80
        return
    assert once == once.lower() == normalise(once) == normalise(f"  {address.upper()}\t")


@hsettings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_any_text_is_an_address_or_one_named_rejection_never_a_crash(text):
    from toolpanel.errors import ExitCode
    from toolpanel.newsletter.addresses import AddressError, normalise

    try:
        address = normalise(text)
    except AddressError as exc:
        assert exc.code == ExitCode.REJECTED and str(exc).endswith("— check the spelling")
        assert str(exc).isprintable()  # a control character is shown as \\uXXXX, never sent to the terminal
        return
    assert "@" in address and not any(c in address for c in "\r\n\t ,<>")


ROW = st.one_of(st.emails(), st.text(max_size=20), st.just(""), st.just("  "))


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(ROW, max_size=25))
def test_each_csv_row_is_one_subscriber_or_one_rejection_naming_its_line(tmp_path, cells):
    import csv

    from toolpanel.newsletter.addresses import AddressError, normalise, read_csv

    path = tmp_path / "list.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "email"])
        w.writerows([i, cell] for i, cell in enumerate(cells))
    good, rejected = read_csv(path)
    assert all(e.file.startswith(f"{path}:") and "\n" not in str(e) for e in rejected)
    lines = [line for line, _ in good] + [int(e.file.rsplit(":", 1)[1]) for e in rejected]
    assert len(lines) == len(set(lines)) == len(cells) and min(lines, default=2) >= 2

    def ok(cell: str) -> str | None:
        try:
            return normalise(cell)
        except AddressError:
            return None

    assert [a for _, a in good] == [a for c in cells if (a := ok(c))]


# -- the weekly deployment ---------------------------------------------------------------------------------------


def test_the_weekly_flow_sends_what_the_cli_sends(prefect_harness, week, tp_home, tmp_path):
    from flows.newsletter import newsletter
    from toolpanel.config import load_settings
    from toolpanel.newsletter.send import last_complete_week

    for a in (A, B):
        tp("subscribe", a, cwd=tmp_path)
    assert last_complete_week(load_settings(), dt.date(2026, 12, 7)) == "2026-W49"  # a Monday sends last week
    week.inbox.refuse = {B: "452 4.2.2 Over quota"}
    summary = asyncio.run(newsletter(week=WEEK))
    assert summary == {"week": WEEK, "sent": 1, "already": 0, "deferred": [B], "bounced": [], "exit_code": 1}
    week.inbox.refuse = {}
    assert asyncio.run(newsletter(week=WEEK))["sent"] == 1
    assert asyncio.run(newsletter(week=WEEK)) == {"week": WEEK, "sent": 0, "already": 2, "deferred": [],
                                                  "bounced": [], "exit_code": 0}
    assert {a: len(week.inbox.to(a)) for a in (A, B)} == {A: 1, B: 1}
