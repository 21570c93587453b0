"""Polite HTTP: a User-Agent naming toolpanel, timeouts, a size cap, a per-host budget, robots.txt for pages."""

from __future__ import annotations

import os
import stat
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

import httpx

from toolpanel import __version__
from toolpanel.errors import ToolpanelError
from toolpanel.ingest.urls import host_of

USER_AGENT = f"toolpanel/{__version__} (+https://github.com/toolpanel)"
ROBOTS_AGENT = "toolpanel"


class FetchFailed(ToolpanelError):
    """A request did not give usable bytes; `problem` and `fix` read as a rejection (`status`: the HTTP status)."""

    def __init__(self, problem: str, fix: str, *, status: int | None = None, **where):
        super().__init__(problem, fix, **where)
        self.status = status


class BudgetSpent(FetchFailed):
    """The per-host request budget of this run is used up."""


@dataclass(frozen=True)
class Page:
    url: str  # after redirects
    content_type: str
    body: bytes


def _mb(n: int) -> str:
    return f"{n:,} bytes"


def read_file(path: Path, max_bytes: int) -> bytes:
    """A local source file, under the same size cap as a download; special files are refused unopened."""
    try:
        st = path.stat()
        if stat.S_ISDIR(st.st_mode):
            raise FetchFailed("is a directory", 'use kind = "cards" for a directory of cards')
        if not stat.S_ISREG(st.st_mode):
            raise FetchFailed("is not a regular file (a pipe, socket or device)", "give the path of a file")
        too_big = FetchFailed(f"is {_mb(st.st_size)}, over the cap of {_mb(max_bytes)}",
                              "raise source_bytes under [limits] in toolpanel.toml if the file is really that big")
        if st.st_size > max_bytes:
            raise too_big
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # never blocks, even if a pipe took the file's place
        with os.fdopen(fd, "rb") as fh:
            data = fh.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise too_big
        return data
    except FileNotFoundError:
        raise FetchFailed("no such file", "check the path (relative paths start at toolpanel.toml)") from None
    except PermissionError:
        raise FetchFailed("cannot be read (permission denied)", "make the file readable (chmod a+r)") from None
    except OSError as exc:
        raise FetchFailed(f"cannot be read ({exc.strerror or exc.__class__.__name__})", "check the path") from None


class Fetcher:
    """One per ingest run: the per-host counts and robots.txt answers live as long as the run."""

    def __init__(self, *, timeout: float, max_bytes: int, requests_per_host: int):
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.requests_per_host = requests_per_host
        self.requests: Counter[str] = Counter()
        self._robots: dict[str, RobotFileParser | None] = {}
        self._client = httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=True, max_redirects=5,
                                    headers={"User-Agent": USER_AGENT})

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def get(self, url: str, accept: str = "*/*") -> Page:
        """GET within budget; the body is streamed and abandoned past max_bytes or past the timeout."""
        host = host_of(url)
        if self.requests[host] >= self.requests_per_host:
            raise BudgetSpent(f"the budget of {self.requests_per_host} requests to {host} for this run is spent",
                              "it is tried again on the next run (or raise requests_per_host under [sources])")
        self.requests[host] += 1
        deadline = time.monotonic() + self.timeout
        too_big = FetchFailed(f"response is larger than the cap of {_mb(self.max_bytes)}",
                              "raise source_bytes under [limits] in toolpanel.toml if the source is really that big")
        try:
            with self._client.stream("GET", url, headers={"Accept": accept}) as r:
                if r.status_code >= 400:
                    raise FetchFailed(f"HTTP {r.status_code} {r.reason_phrase}".rstrip(),
                                      "check the URL (the source may have moved)" if r.status_code < 500 else
                                      "the server failed; it is tried again on the next run", status=r.status_code)
                declared = r.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.max_bytes:
                    raise too_big
                body = bytearray()
                for chunk in r.iter_bytes():
                    body += chunk
                    if len(body) > self.max_bytes:
                        raise too_big
                    if time.monotonic() > deadline:
                        raise httpx.ReadTimeout("body too slow")
                return Page(str(r.url), r.headers.get("content-type", ""), bytes(body))
        except httpx.TimeoutException:
            raise FetchFailed(f"timed out after {self.timeout:g} s",
                              "it is tried again on the next run (raise timeout under [sources] if the server is "
                              "always slow)") from None
        except httpx.TooManyRedirects:
            raise FetchFailed("too many redirects", "use the address the redirects end at") from None
        except httpx.HTTPError as exc:
            raise FetchFailed(f"could not connect ({exc.__class__.__name__}: {exc})",
                              "check the URL and that the server is up; it is tried again on the next run") from None

    def allowed(self, url: str) -> bool:
        """Does the site's robots.txt let toolpanel read this page? (RFC 9309: unreachable -> no; missing -> yes.)"""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._robots:
            rules: RobotFileParser | None = RobotFileParser()
            try:
                page = self.get(origin + "/robots.txt", accept="text/plain")
                rules.parse(page.body.decode("utf-8", "replace").splitlines())
            except BudgetSpent:
                raise
            except FetchFailed as exc:
                if exc.status is not None and 400 <= exc.status < 500 and exc.status not in (401, 403):
                    rules.parse([])  # no robots.txt: everything is allowed
                else:
                    rules = None
            self._robots[origin] = rules
        rules = self._robots[origin]
        return rules is not None and rules.can_fetch(ROBOTS_AGENT, url)
