"""Canonical URLs (pure): what a tool's link is once the cosmetic parts are gone."""

from __future__ import annotations

import re
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit

from toolpanel.errors import ToolpanelError, quote
from toolpanel.text import clean_line

# Campaign and click identifiers: they say where a visitor came from, never which tool it is.
TRACKING_PARAMS = frozenset({
    "ref", "ref_src", "ref_url", "referrer", "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid",
    "twclid", "ttclid", "li_fat_id", "igshid", "mc_cid", "mc_eid", "mkt_tok", "_hsenc", "_hsmi", "hsctatracking",
    "oly_anon_id", "oly_enc_id", "vero_id", "vero_conv", "rb_clickid", "s_cid", "trk", "spm", "_ga", "_gl",
})
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "matomo_")
DEFAULT_PORTS = {"http": 80, "https": 443}


# A host is letters (any script), digits, dots, hyphens and underscores; an IPv6 literal is hex and colons.
_HOST = re.compile(r"^(?:[^\W_]|[-._])+$|^[0-9a-f:.]+$")
HTTP_FIX = "use a full address starting with https://"


class BadURL(ToolpanelError):
    """Not a valid absolute http(s) URL; `problem` names what is wrong with it."""

    def __init__(self, problem: str, fix: str = HTTP_FIX, **where):
        super().__init__(problem, fix, **where)


def parse_url(url: str) -> tuple[SplitResult, int | None]:
    """Split a URL and check that it is a valid absolute http(s) URL; raises BadURL (never ValueError)."""
    raw = clean_line(url)
    shown = quote(raw)
    if any(ch.isspace() for ch in raw):
        raise BadURL(f"{shown} is not a valid URL: it contains a space",
                     "remove the spaces, or write them as %20 in the path")
    try:
        parts = urlsplit(raw)
    except ValueError:  # 'Invalid IPv6 URL': an unbalanced '[' or ']'
        raise BadURL(f"{shown} is not a valid URL: its IPv6 address is not enclosed in [ ]",
                     "write an IPv6 host as https://[2001:db8::1]/, or use the host's name") from None
    if parts.scheme.lower() not in DEFAULT_PORTS:
        raise BadURL(f"{shown} is not an http(s) URL")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise BadURL(f"{shown} is not a valid URL: the port is not a number from 1 to 65535",
                     "fix the port after the host (e.g. https://example.com:8443/), or leave it out")
    host = parts.hostname
    if not host:
        raise BadURL(f"{shown} is not an http(s) URL")
    if not _HOST.match(host):
        raise BadURL(f"{shown} is not a valid URL: the host name has characters a host cannot have")
    return parts, port


def check_url(url: str) -> str:
    """The URL (cleaned) when it is a valid absolute http(s) URL; raises BadURL."""
    parse_url(url)
    return clean_line(url)


def canonical_url(url: str) -> str:
    """Lowercase scheme and host, no credentials, default port, fragment, tracking parameters or trailing slash.

    Query parameters are sorted so that their order is not a change either. The trailing slash is dropped
    (also on the root, 'https://acme.ai/' -> 'https://acme.ai') so that card URLs written without one keep
    their snapshot hash.
    """
    parts, port = parse_url(url)
    scheme = parts.scheme.lower()
    host = parts.hostname.lower().rstrip(".")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = parts.path.rstrip("/")
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                   if k.lower() not in TRACKING_PARAMS and not k.lower().startswith(TRACKING_PREFIXES))
    return f"{scheme}://{netloc}{path}" + (f"?{urlencode(query)}" if query else "")


def identity_key(url: str) -> str:
    """The key two sources must share to be the same tool: the canonical URL without scheme and 'www.'."""
    canon = canonical_url(url)
    rest = canon.split("://", 1)[1]
    return rest[4:] if rest.startswith("www.") else rest


def host_of(url: str) -> str:
    """host[:port] as the per-host request budget counts it."""
    parts = urlsplit(url)
    return (parts.netloc.rsplit("@", 1)[-1]).lower()
