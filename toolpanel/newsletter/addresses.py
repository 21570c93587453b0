"""Readers' addresses: checked with email-validator (syntax only, no DNS), one spelling per address, and
CSV lists read line by line (a bad row is one rejection naming file:line; the rest is kept)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from email_validator import EmailNotValidError, validate_email

from toolpanel.errors import ToolpanelError, shorten

MAX_CSV_BYTES = 20_000_000  # a subscriber list (about half a million addresses): checked before it is read


class AddressError(ToolpanelError):
    """An address (or a CSV row) not taken: where (`file`, e.g. 'subscribers.csv:3'), the address, the fix."""


def normalise(address: str, where: str | None = None) -> str:
    """The address as stored and sent: email-validator's normalised form, in lower case (one subscriber per
    mailbox whatever the capitals). An invalid one raises AddressError naming it and the library's reason."""
    given = address.strip()
    try:
        checked = validate_email(given, check_deliverability=False)
    except EmailNotValidError as exc:
        shown = shorten("".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in given), 80) if given else "''"
        raise AddressError(f"{shown}: not a valid email address ({exc})", "check the spelling", file=where) from None
    return checked.normalized.lower()


def read_csv(path: Path) -> tuple[list[tuple[int, str]], list[AddressError]]:
    """(line, normalised address) for every good row of a CSV whose header names an `email` column (other
    columns are ignored), and one AddressError per bad row; blank lines are skipped."""
    try:
        size = path.stat().st_size
        if size > MAX_CSV_BYTES:
            return [], [AddressError(f"is {size:,} bytes, over the cap of {MAX_CSV_BYTES:,}",
                                     "split the list into smaller files", file=str(path))]
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [AddressError(f"cannot read it ({exc.__class__.__name__})", "export the list as UTF-8 CSV",
                                 file=str(path))]
    reader = csv.reader(io.StringIO(text, newline=""))
    good: list[tuple[int, str]] = []
    errors: list[AddressError] = []
    col, first = None, 1  # the `email` column; the line the next row starts on (a quoted cell may span lines)
    try:
        for row in reader:
            line, first = first, reader.line_num + 1
            where = f"{path}:{line}"
            if not any(cell.strip() for cell in row):
                continue
            if col is None:  # the header
                header = [h.strip().lower() for h in row]
                if "email" not in header:
                    return [], [AddressError(f"columns are {', '.join(header)}",
                                             "the first line must name the columns, one of them `email`", file=where)]
                col = header.index("email")
            elif col >= len(row) or not row[col].strip():
                errors.append(AddressError("no address in the `email` column", "fill it in or remove the row",
                                           file=where))
            else:
                try:
                    good.append((line, normalise(row[col], where)))
                except AddressError as exc:
                    errors.append(exc)
    except csv.Error as exc:  # a NUL byte, say: the rest of the file is not read
        errors.append(AddressError(f"not readable as CSV from here on ({exc})", "fix the row and import again",
                                   file=f"{path}:{first}"))
    if col is None and not errors:
        errors.append(AddressError("no header line", "the first line must name the columns, one of them `email`",
                                   file=str(path)))
    return good, errors
