"""Canonical URLs (pure): what a tool's link is once the cosmetic parts are gone."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

from toolpanel.text import clean_line

# Campaign and click identifiers: they say where a visitor came from, never which tool it is.
TRACKING_PARAMS = frozenset({
    "ref", "ref_src", "ref_url", "referrer", "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid",
    "twclid", "ttclid", "li_fat_id", "igshid", "mc_cid", "mc_eid", "mkt_tok", "_hsenc", "_hsmi", "hsctatracking",
    "oly_anon_id", "oly_enc_id", "vero_id", "vero_conv", "rb_clickid", "s_cid", "trk", "spm", "_ga", "_gl",
})
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "matomo_")
DEFAULT_PORTS = {"http": 80, "https": 443}


class BadURL(ValueError):
    """Not an absolute http(s) URL."""


def canonical_url(url: str) -> str:
    """Lowercase scheme and host, no credentials, default port, fragment, tracking parameters or trailing slash.

    Query parameters are sorted so that their order is not a change either. The trailing slash is dropped
    (also on the root, 'https://acme.ai/' -> 'https://acme.ai') so that card URLs written without one keep
    their snapshot hash.
    """
    raw = clean_line(url)
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise BadURL(f"'{raw}' is not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise BadURL(f"'{raw}' is not an http(s) URL")
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
