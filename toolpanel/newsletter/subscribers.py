"""Subscribers and deliveries in the warehouse (m016): append-only events, read back as each address's
latest state; a delivery is recorded in its own short transaction the moment the server answered."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from toolpanel.newsletter.addresses import AddressError, normalise, read_csv
from warehouse.rows import new_id, now
from warehouse.store import Warehouse

Status = Literal["subscribed", "unsubscribed", "bounced"]


class Subscriber(BaseModel):
    """An address and its latest event: what `newsletter list` shows and `send` reads."""

    address: str
    status: Status
    source: str  # where that event came from: cli, csv:FILE, smtp (a bounce)
    since: dt.datetime  # when it happened (UTC)


class ImportReport(BaseModel):
    """What `newsletter import FILE.csv` did: new subscribers, rows already subscribed, rows skipped because the
    address left (unsubscribed or bounced: only `subscribe` brings it back), and one rejection per bad row."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    imported: int = 0
    already: int = 0
    skipped: int = 0
    rejected: list[AddressError] = []


def _event(address: str, event: Status, source: str, detail: str | None = None) -> list:
    return [new_id("se"), address, event, source, detail, now()]


def _states(con, addresses: list[str] | None = None) -> dict[str, str]:
    where = "WHERE list_contains(?::VARCHAR[], address)" if addresses is not None else ""
    return dict(con.execute(f"SELECT address, status FROM subscribers {where}",
                            [addresses] if addresses is not None else []).fetchall())


def subscribe(store: Warehouse, address: str, source: str = "cli") -> tuple[str, bool]:
    """Subscribe (again, after an unsubscribe or a bounce): (the address as stored, False when it already was).
    AddressError if it is not an address."""
    address = normalise(address)
    with store.transaction() as con:
        if _states(con, [address]).get(address) == "subscribed":
            return address, False
        con.execute("INSERT INTO subscriber_events VALUES (?, ?, ?, ?, ?, ?)", _event(address, "subscribed", source))
    return address, True


def unsubscribe(store: Warehouse, address: str, source: str = "cli") -> tuple[str, bool]:
    """Unsubscribe: (the address as stored, False when it was not subscribed: nothing recorded). AddressError if
    it is not an address."""
    address = normalise(address)
    with store.transaction() as con:
        if _states(con, [address]).get(address) != "subscribed":
            return address, False
        con.execute("INSERT INTO subscriber_events VALUES (?, ?, ?, ?, ?, ?)", _event(address, "unsubscribed", source))
    return address, True


def import_csv(store: Warehouse, path: Path) -> ImportReport:
    """Subscribe every good row of a CSV (an `email` column) in one transaction; each bad row is one rejection
    naming file:line, and never stops the others."""
    good, rejected = read_csv(path)
    report = ImportReport(rejected=rejected)
    if not good:
        return report
    with store.transaction() as con:
        states = _states(con, sorted({a for _, a in good}))
        rows = []
        for _, address in good:
            state = states.get(address)
            if state == "subscribed":
                report.already += 1
            elif state is not None:  # unsubscribed or bounced: an old list must not bring it back
                report.skipped += 1
            else:
                states[address] = "subscribed"
                rows.append(_event(address, "subscribed", f"csv:{path.name}"))
        if rows:
            con.executemany("INSERT INTO subscriber_events VALUES (?, ?, ?, ?, ?, ?)", rows)
    report.imported = len(rows)
    return report


def subscribers(store: Warehouse, status: Status | None = "subscribed") -> list[Subscriber]:
    """Every address whose latest event is `status` (None: every address), by address."""
    if not store.path.exists():
        return []
    where = "WHERE status = ?" if status else ""
    rows = store.query(f"SELECT address, status, source, since FROM subscribers {where} ORDER BY address",
                       [status] if status else [])
    return [Subscriber(**r) for r in rows]


def week_deliveries(store: Warehouse, week: str) -> dict[str, str]:
    """address -> its latest delivery status for this week's message (sent, deferred or bounced)."""
    if not store.path.exists():
        return {}
    rows = store.query("SELECT address, arg_max(status, (created_at, delivery_id)) AS status "
                       "FROM newsletter_deliveries WHERE week = ? GROUP BY address", [week])
    return {r["address"]: r["status"] for r in rows}


def record_delivery(store: Warehouse, week: str, address: str, status: str, code: int | None = None,
                    message: str | None = None) -> None:
    """One delivery attempt, in its own transaction; a bounce also ends the subscription (an event)."""
    with store.transaction() as con:
        con.execute("INSERT INTO newsletter_deliveries VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [new_id("nd"), week, address, status, code, message, now()])
        if status == "bounced":
            con.execute("INSERT INTO subscriber_events VALUES (?, ?, ?, ?, ?, ?)",
                        _event(address, "bounced", "smtp", f"{code} {message or ''}".strip()))
