"""Migration m016: the weekly newsletter's subscribers and deliveries (issue 26; docs/newsletter.md).

Readers' addresses are personal data, not analysis material: these tables and views are dropped from
the analyst snapshot (warehouse/snapshot.py reads `PRIVATE` below), and the snapshot's free space is
overwritten so no fragment of them is left in `analyst.duckdb`.
"""

from __future__ import annotations

import duckdb

# What analyst.duckdb never holds: views first (they read the tables), then the tables.
PRIVATE_VIEWS = ("subscribers",)
PRIVATE_TABLES = ("subscriber_events", "newsletter_deliveries")


def m016_newsletter(con: duckdb.DuckDBPyConnection) -> None:
    """Subscribers as append-only events (the latest event of an address is its state), and one row per
    delivery attempt: a week's message is sent to an address once, a 4xx is tried again next send."""
    con.execute("""
        CREATE TABLE subscriber_events (
            event_id VARCHAR PRIMARY KEY,
            address VARCHAR NOT NULL,          -- normalised (email-validator), lower case
            event VARCHAR NOT NULL,            -- subscribed | unsubscribed | bounced
            source VARCHAR NOT NULL,           -- cli | csv:FILE | smtp (a bounce) | ...
            detail VARCHAR,                    -- a bounce's SMTP reply, say
            created_at TIMESTAMP NOT NULL
        )""")
    con.execute("""
        CREATE TABLE newsletter_deliveries (
            delivery_id VARCHAR PRIMARY KEY,
            week VARCHAR NOT NULL,             -- ISO week of the digest, e.g. 2026-W49
            address VARCHAR NOT NULL,
            status VARCHAR NOT NULL,           -- sent | deferred (4xx: tried again) | bounced (5xx)
            smtp_code INTEGER,                 -- the server's reply to a refusal (NULL when sent)
            smtp_message VARCHAR,
            created_at TIMESTAMP NOT NULL
        )""")
    con.execute("""
        CREATE VIEW subscribers AS
        SELECT address, arg_max(event, (created_at, event_id)) AS status,
               arg_max(source, (created_at, event_id)) AS source, max(created_at) AS since
        FROM subscriber_events GROUP BY address""")
