"""Markdown tables from benchmark JSON: cells, tables, key/value tables, and the generic fallback that turns
any JSON shape into readable tables (bench/report.py's building blocks)."""

from __future__ import annotations

import math
import re

MAX_ROWS = 20      # longer tables are cut; the raw JSON has every row
LONG_TEXT = 80     # longer strings leave the table and become a note below it

WORDS = {"asr": "ASR", "mae": "MAE", "sd": "SD", "id": "ID", "cpu": "CPU", "rss": "RSS", "stdev": "SD",
         "kappa": "Cohen's κ", "utf8": "UTF-8", "n_eff": "effective votes (n_eff)"}
UNITS = {"s": "(s)", "ms": "(ms)", "pct": "(%)", "usd": "($)", "bytes": "(bytes)"}  # moved to the end of a name


# ---------------------------------------------------------------- cells and tables

def human(key) -> str:
    """`score_mae` -> `score MAE`; keys that are already names (spaces, paths, capitals) stay as they are."""
    key = str(key)
    if key in WORDS or not key.replace("_", "").isalnum() or key != key.lower():
        return WORDS.get(key, key)
    words = [w for w in key.split("_") if w]
    units = [UNITS[w] for w in words[1:] if w in UNITS]
    return " ".join([WORDS.get(w, w) for i, w in enumerate(words) if not (i and w in UNITS)] + units)


def _num(v: float) -> str:
    if math.isnan(v) or math.isinf(v):
        return str(v)
    if v == int(v) and abs(v) < 1e15:
        return cell(int(v))
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    digits = 1 if a >= 100 else 2 if a >= 1 else min(12, max(2, 2 - math.floor(math.log10(a))))
    return f"{v:.{digits}f}".rstrip("0").rstrip(".")


def _scalar(v) -> bool:
    return v is None or isinstance(v, (str, int, float, bool))


def inline(v) -> bool:
    """Fits in one cell: a scalar, a list of scalars or a small flat dict."""
    if isinstance(v, list):
        return all(_scalar(x) for x in v)
    if isinstance(v, dict):
        return len(v) <= 6 and all(_scalar(x) or (isinstance(x, list) and not x) for x in v.values())
    return _scalar(v)


def cell(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}" if abs(v) >= 10000 else str(v)
    if isinstance(v, float):
        return _num(v)
    if v == "":
        return ""
    if isinstance(v, list):
        if not v:
            return "none"
        if not all(_scalar(x) for x in v):
            return f"{len(v)} entries"
        shown = ", ".join(cell(x) for x in v[:3])
        return shown if len(v) <= 3 else f"{len(v)}: {shown}, …"
    if isinstance(v, dict):
        if not v:
            return "none"
        if not inline(v):
            return f"{len(v)} fields"
        return ", ".join(f"{human(k)}: {cell(x)}" for k, x in sorted(v.items(), key=lambda kv: str(kv[0])))
    return re.sub(r"(?<!\\)\|", r"\\|", str(v).replace("\n", " ")).strip() or "—"  # escaping twice is harmless


def table(headers: list[str], rows: list[list], limit: int = MAX_ROWS) -> list[str]:
    """A Markdown table of raw values; numeric columns right-aligned, long tables cut with a note."""
    if not rows:
        return ["*(no entries)*"]
    numeric = [all(isinstance(r[i], (int, float)) and not isinstance(r[i], bool) or r[i] in (None, "") for r in rows)
               and any(r[i] not in (None, "") for r in rows) for i in range(len(headers))]
    out = ["| " + " | ".join(cell(h) for h in headers) + " |",
           "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    out += ["| " + " | ".join(cell(x) for x in r) + " |" for r in rows[:limit]]
    if len(rows) > limit:
        out += ["", f"*… and {len(rows) - limit} more rows in the raw JSON.*"]
    return out


def kv_table(items: list[tuple], name: str = "figure", value: str = "value") -> list[str]:
    """Key/value rows; a few short values make one row, many short rows are packed three or four pairs a line."""
    rows = [[human(k), v] for k, v in items]
    if len(rows) <= 8 and all(len(cell(v)) <= 40 for _, v in rows):
        return table([r[0] for r in rows], [[r[1] for r in rows]])
    if len(rows) <= 12:
        return table([name, value], rows)
    pairs = 3 if len(rows) <= 24 else 4
    per = math.ceil(len(rows) / pairs)
    packed = [sum((rows[i + j * per] if i + j * per < len(rows) else ["", ""] for j in range(pairs)), [])
              for i in range(per)]
    return table([name, value] * pairs, packed, limit=per)


def notes(items: list[tuple]) -> list[str]:
    return [f"- **{cell(human(k))}**: {cell(v)}" for k, v in items]


# ---------------------------------------------------------------- any shape

def records(rows: list[tuple], first: str) -> list[str]:
    """One row per record (label, dict); columns in the order the benchmark wrote them; long text as notes."""
    cols: list = []
    for _, r in rows:
        cols += [k for k in r if k not in cols]
    long = [c for c in cols if any(isinstance(r.get(c), str) and len(r[c]) > 60 for _, r in rows)]
    cols = [c for c in cols if c not in long]
    out = table([first] + [human(c) for c in cols], [[label] + [r.get(c) for c in cols] for label, r in rows])
    extra = [(f"{label} · {human(c)}" if len(long) > 1 else label, r[c])
             for label, r in rows[:MAX_ROWS] for c in long if r.get(c) is not None]
    return out + ([""] + notes(extra) if extra else [])


def _as_records(v) -> list[tuple] | None:
    if isinstance(v, dict) and v and all(isinstance(x, dict) for x in v.values()):
        return [(k, v[k]) for k in sorted(v, key=str)]
    if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
        return [(i + 1, x) for i, x in enumerate(v)]
    return None


def generic(data, title: str = "", depth: int = 0) -> list[str]:
    """Any JSON: scalars as one table, small groups as one overview row each, nested groups as their own tables."""
    if not isinstance(data, dict):
        recs = _as_records(data)
        if recs:
            return records(recs, "#")
        if inline(data):
            return table(["value"], [[data]])
        return table(["#", "value"], [[i + 1, x] for i, x in enumerate(data)])  # a mixed list: one cell each
    data = dict(data)
    if depth == 0 and isinstance(data.get("figures"), dict):
        figures = data.pop("figures")
        data.update({k: v for k, v in figures.items() if k not in data})
    out: list[str] = []
    keys = sorted(data, key=str)
    text = [(k, data[k]) for k in keys if isinstance(data[k], str) and len(data[k]) > LONG_TEXT]
    flat = [(k, data[k]) for k in keys
            if inline(data[k]) and not isinstance(data[k], dict) and (k, data[k]) not in text]
    groups = [(k, data[k]) for k in keys if isinstance(data[k], dict) and not _as_records(data[k])
              and all(inline(x) for x in data[k].values()) and len(data[k]) <= 8]
    big_flat = [(k, data[k]) for k in keys if isinstance(data[k], dict) and not _as_records(data[k])
                and all(inline(x) for x in data[k].values()) and len(data[k]) > 8]
    done = {k for k, _ in text + flat + groups + big_flat}
    rest = [(k, data[k]) for k in keys if k not in done]
    if groups:  # one row per small group; the loose scalars become a first "summary" row
        rows = ([["summary", dict(flat)]] if flat else []) + [[human(k), v] for k, v in groups]
        joined = [" · ".join(f"{human(a)} ({cell(b)})" if isinstance(b, dict) and b else f"{human(a)} {cell(b)}"
                             for a, b in v.items()) or "none" for _, v in rows]
        out += table(["group", "figures"], [[g, j] for (g, _), j in zip(rows, joined)]) + [""]
    elif flat:
        out += kv_table(flat) + [""]
    for k, v in big_flat + rest:
        name = f"{title} — {human(k)}" if title else human(k)
        recs = _as_records(v)
        if recs or not isinstance(v, dict) or any(inline(x) and not isinstance(x, str) for x in v.values()):
            out += [f"### {cell(name[:1].upper() + name[1:])}", ""]  # else only sub-tables: they carry the name
        if recs:
            label = "#" if isinstance(v, list) else human(k)[:-1] if str(k).endswith("s") else "name"
            out += records(recs, label)
        elif isinstance(v, dict) and all(inline(x) for x in v.values()):
            out += kv_table(sorted(v.items(), key=lambda kv: str(kv[0])))
        elif depth < 2:
            out += generic(v, name, depth + 1)
        else:
            out += table(["value"], [[v]])
        out.append("")
    if text:
        out += notes(text)
    while out and out[-1] == "":
        out.pop()
    return out or ["*(no entries)*"]
