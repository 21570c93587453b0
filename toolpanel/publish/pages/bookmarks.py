"""The reader's bookmarks: the Bookmarks page, the script behind every Bookmark button (bookmarks.js, copied
like the stylesheet) and bookmarks-data.js, each tool's current published verdict for the Bookmarks page.

The data file is loaded with <script src> (a file:// page cannot fetch JSON) and holds only what the list
shows: per slug the name, the verdict as the index row shows it (a held verdict is never in it: the published
one, or "Awaiting editor check"), and the page's path. It is one file, rewritten only when one of those
changes (~100 bytes a tool: ~1 MB for 10,000 tools)."""

from __future__ import annotations

import json
from pathlib import Path

from toolpanel import scorecard
from toolpanel.publish.data import Listing
from toolpanel.publish.pages import Site, page_type
from toolpanel.publish.render import AWAITING

SCRIPT = Path(__file__).resolve().parent.parent / "bookmarks.js"
DATA = "bookmarks-data.js"
DATA_FORMAT = 1  # in the data file's fingerprint: a change of its shape rewrites it


def shown_verdict(t: Listing) -> str:
    """The verdict as the site shows it (row.html.j2, tool.html.j2): the published verdict's label, else
    "Awaiting editor check" while one waits for an editor, else "No verdict yet"."""
    if t.verdict is None:
        return AWAITING if t.editor_wait else scorecard.verdict_label(None)
    return t.history[-1].label  # the published verdict is the last point of the published history


def data_js(entries: list[tuple[str, str, str]]) -> str:
    tools = {slug: [name, verdict, f"tools/{slug}.html"] for slug, name, verdict in entries}
    body = json.dumps(tools, ensure_ascii=False, separators=(",", ":"))
    # U+2028/9 are valid in JSON strings; escaped, the file also parses as JavaScript in older engines
    body = body.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return ("/* toolpanel: each tool's current published verdict, for the Bookmarks page (bookmarks.js). "
            "slug: [name, verdict, page] */\nwindow.TOOLPANEL_TOOLS = " + body + ";\n")


@page_type("bookmarks", order=55)
def bookmarks(site: Site) -> None:
    site.w.page("bookmarks.js", None, SCRIPT.read_bytes)
    entries = [(t.slug, t.name, shown_verdict(t)) for t in site.listings]
    site.w.page(DATA, [DATA_FORMAT, entries], lambda: data_js(entries))
    site.w.page("bookmarks.html", [site.th], lambda: site.render("bookmarks.html.j2", ""))
