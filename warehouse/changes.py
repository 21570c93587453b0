"""Run inputs (what each run read, part by part) and the thin read behind `toolpanel why`.

Writes: `record_run_inputs` in the run's first transaction. Reads: `load_facts` (bulk, for publishing),
`explain` / `explain_latest` (one tool). The attribution itself is toolpanel.why.changes (pure).
"""

from __future__ import annotations

import difflib
import hashlib
import json

import duckdb

from toolpanel.why.changes import VerdictFacts, attribute
from toolpanel.errors import ToolpanelError
from warehouse.connection import WarehouseBusy
from toolpanel.models import Change, Persona
from warehouse.rows import TAKE_COLUMNS, _take, _tool, now
from warehouse.store import Warehouse


def template_records(sources: dict[str, str]) -> dict[str, tuple[str, str]]:
    """name -> (hash, content) for each part of the prompt (see toolpanel.panel.prompts.template_sources)."""
    return {name: (hashlib.sha256(text.encode("utf-8")).hexdigest()[:12], text) for name, text in sources.items()}


def persona_content(p: Persona) -> dict:
    """The persona's fields as its file gives them (what a later diff compares)."""
    return p.model_dump(exclude={"version", "path"})


def record_run_inputs(con: duckdb.DuckDBPyConnection, run_id: str, templates: dict[str, tuple[str, str]],
                      personas: list[Persona], stored: set[str] | frozenset[str] = frozenset()) -> set[str]:
    """Which template and persona file (by hash) this run read; contents stored once per hash (`stored`:
    hashes the caller already committed, skipped). Returns every hash whose content this run holds."""
    ts = now()
    unique = {h: (name, text) for name, (h, text) in sorted(templates.items()) if h not in stored}
    if unique:
        con.execute("INSERT INTO prompt_templates VALUES " + ", ".join("(?, ?, ?, ?)" for _ in unique)
                    + " ON CONFLICT DO NOTHING",
                    [x for h, (name, text) in unique.items() for x in (h, name, text, ts)])
    files = {p.version: p for p in personas if p.version not in stored}
    if files:
        con.execute("INSERT INTO persona_files VALUES " + ", ".join("(?, ?, ?, ?)" for _ in files)
                    + " ON CONFLICT DO NOTHING",
                    [x for v, p in files.items() for x in (v, p.id, json.dumps(persona_content(p)), ts)])
    rows = [("template", name, h) for name, (h, _) in templates.items()] + [("persona", p.id, p.version)
                                                                             for p in personas]
    if rows:
        con.execute("INSERT INTO run_inputs VALUES " + ", ".join("(?, ?, ?, ?)" for _ in rows)
                    + " ON CONFLICT DO NOTHING", [x for r in rows for x in (run_id, *r)])
    return {h for h, _ in templates.values()} | {p.version for p in personas}


def _q(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[dict]:
    cur = con.execute(sql, params)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def load_facts(con: duckdb.DuckDBPyConnection, verdict_ids: list[str]) -> dict[str, VerdictFacts]:
    """Everything attribution needs about these verdicts, in five queries whatever their number."""
    if not verdict_ids:
        return {}
    vs = _q(con, "SELECT v.verdict_id, v.run_id, v.slug, v.snapshot_hash, v.verdict, v.ship_count, v.skip_count, "
                 "v.take_ids, v.created_at, r.trigger, r.reason, r.forced, r.prompt_hash, r.persona_versions, "
                 "r.models, r.settings FROM verdicts v JOIN runs r USING (run_id) "
                 "WHERE v.verdict_id IN (SELECT unnest(?::VARCHAR[]))", [verdict_ids])
    keys = sorted({(v["slug"], v["snapshot_hash"]) for v in vs})
    snaps = {(r["slug"], r["snapshot_hash"]): r for r in _q(
        con, "SELECT * FROM tool_snapshots WHERE snapshot_hash IN (SELECT unnest(?::VARCHAR[]))",
        [[k[1] for k in keys]])}
    take_ids = [t for v in vs for t in v["take_ids"]]
    takes = {r[0]: _take(r) for r in con.execute(
        f"SELECT {', '.join(TAKE_COLUMNS)} FROM takes WHERE take_id IN (SELECT unnest(?::VARCHAR[]))",
        [take_ids]).fetchall()}
    inputs: dict[str, dict[str, dict[str, str]]] = {}
    for r in _q(con, "SELECT * FROM run_inputs WHERE run_id IN (SELECT unnest(?::VARCHAR[]))",
                [[v["run_id"] for v in vs]]):
        inputs.setdefault(r["run_id"], {}).setdefault(r["kind"], {})[r["name"]] = r["hash"]
    carried: dict[str, list[str]] = {}
    for run_id, persona in con.execute("SELECT run_id, persona_id FROM carried_takes "
                                       "WHERE run_id IN (SELECT unnest(?::VARCHAR[]))", [[v["run_id"] for v in vs]]).fetchall():
        carried.setdefault(run_id, []).append(persona)
    for v in vs:  # a carried take's persona version and model are the verdict's too, though its run never asked
        pv, models = json.loads(v["persona_versions"]), json.loads(v["models"])
        for t in (takes[i] for i in v["take_ids"] if i in takes):
            pv.setdefault(t.persona_id, t.persona_version)
            models.setdefault(t.persona_id, t.model)
        v["persona_versions"], v["models"] = json.dumps(pv), json.dumps(models)
    versions = {v: None for row in vs for v in json.loads(row["persona_versions"]).values()}
    # A version is a content hash: content recorded by any run is that version's content, even for older runs.
    contents = {r["persona_version"]: json.loads(r["content"]) for r in _q(
        con, "SELECT persona_version, content FROM persona_files WHERE persona_version IN "
             "(SELECT unnest(?::VARCHAR[]))", [list(versions)])}
    out = {}
    for v in vs:
        pv = json.loads(v["persona_versions"])
        snap = snaps[(v["slug"], v["snapshot_hash"])]
        out[v["verdict_id"]] = VerdictFacts(
            slug=v["slug"], verdict_id=v["verdict_id"], run_id=v["run_id"], created_at=v["created_at"],
            verdict=v["verdict"], ship_count=v["ship_count"], skip_count=v["skip_count"], trigger=v["trigger"],
            reason=v["reason"], forced=v["forced"], snapshot_hash=v["snapshot_hash"],
            card=_tool(snap).reviewed_content(), prompt_hash=v["prompt_hash"],
            templates=inputs.get(v["run_id"], {}).get("template"), persona_versions=pv,
            persona_contents={ver: contents[ver] for ver in pv.values() if ver in contents},
            models=json.loads(v["models"]), settings=json.loads(v["settings"]),
            takes=[takes[t] for t in v["take_ids"] if t in takes], carried=carried.get(v["run_id"], []))
    return out


def explain_pairs(store: Warehouse, pairs: list[tuple[str, str]], personas: list[Persona] | None = None
                  ) -> dict[str, Change]:
    """(from verdict id, to verdict id) -> Change, keyed by the later verdict id (publishing: one read)."""
    if not pairs:
        return {}
    with store.connect() as con:
        facts = load_facts(con, sorted({i for p in pairs for i in p}))
    return {b: _attribute(facts[a], facts[b], personas) for a, b in pairs if a in facts and b in facts}


def _attribute(a: VerdictFacts, b: VerdictFacts, personas: list[Persona] | None) -> Change:
    personas = personas or []
    return attribute(a, b, order=[p.id for p in personas], names={p.id: p.name for p in personas})


PUBLISHED = ("approved", "auto")  # the decisions that publish a verdict (the published_* views)


def all_verdicts(store: Warehouse, slug: str) -> list[dict]:
    """Every verdict of the tool, oldest first, with what became of it (its latest decision and reasons)."""
    return store.query(
        "WITH st AS (SELECT verdict_id, arg_max(decision, (created_at, decision_id)) AS decision, "
        "arg_max(reasons, (created_at, decision_id)) AS reasons FROM decisions WHERE slug = ? GROUP BY verdict_id) "
        "SELECT v.verdict_id, v.run_id, v.created_at, v.verdict, v.ship_count, v.skip_count, st.decision, st.reasons "
        "FROM verdicts v "
        "LEFT JOIN st USING (verdict_id) WHERE v.slug = ? ORDER BY v.created_at, v.verdict_id", [slug, slug])


def _shown(rows: list[dict], include_held: bool) -> list[dict]:
    """The published verdicts (as published_history); with `include_held`, then the newest held verdict newer
    than the last published one (the one the review queue shows)."""
    last = max((i for i, r in enumerate(rows) if r["decision"] in PUBLISHED), default=-1)
    shown = [r for r in rows[:last + 1] if r["decision"] in PUBLISHED]
    held = [r for r in rows[last + 1:] if r["decision"] == "held"]
    return shown + held[-1:] if include_held else shown


def verdicts_of(store: Warehouse, slug: str, *, include_held: bool = False) -> list[dict]:
    """A tool's published verdicts, oldest first (the order of published_history), each with `decision` and
    `reasons`; with `include_held`, the newest held verdict newer than the published one last."""
    return _shown(all_verdicts(store, slug), include_held) if store.path.exists() else []


def pick_pair(store: Warehouse, slug: str, from_ref: str | None = None, to_ref: str | None = None, *,
              include_held: bool = False) -> tuple[dict, dict] | None:
    """The two verdicts `why` compares (rows of `verdicts_of`, any decision when named by a ref): by default
    the last two published ones; `include_held` makes a newer held verdict the "to" side. "from" defaults
    to the published verdict before "to". None when there is nothing to compare and no refs were given."""
    rows = all_verdicts(store, slug) if store.path.exists() else []
    if not rows:
        known = store.slugs() if store.path.exists() else []
        if slug not in known:
            close = difflib.get_close_matches(slug, known, n=3, cutoff=0.5)
            raise ToolpanelError(f"no tool '{slug}' in the warehouse",
                                 (f"did you mean {', '.join(close)}? " if close else "")
                                 + "(review its card first: toolpanel review CARD)")
    shown = _shown(rows, include_held)
    if to_ref:
        to = rows[_index(store, slug, rows, to_ref)]
    elif shown:
        to = shown[-1]
    else:
        return None
    if from_ref:
        return rows[_index(store, slug, rows, from_ref)], to
    key = (to["created_at"], to["verdict_id"])
    before = [r for r in rows if r["decision"] in PUBLISHED and (r["created_at"], r["verdict_id"]) < key]
    if before:
        return before[-1], to
    if to_ref and rows[0] is to:
        raise ToolpanelError(f"run '{to_ref}' holds the first verdict of {slug}: there is nothing before it",
                             f"compare it with a later one: toolpanel why {slug} --from {to_ref}")
    if to_ref:
        raise ToolpanelError(f"no verdict of {slug} was published before run '{to_ref}'",
                             f"name the earlier one: toolpanel why {slug} --from RUN --to {to_ref} "
                             f"(toolpanel history {slug} lists the runs)")
    return None


def explain(store: Warehouse, slug: str, from_ref: str | None = None, to_ref: str | None = None,
            personas: list[Persona] | None = None, *, include_held: bool = False) -> Change | None:
    """Why the verdict `to_ref` differs from `from_ref` (run or verdict ids); by default the last two
    published verdicts (see pick_pair). None when there is nothing to compare and no refs were given."""
    pair = pick_pair(store, slug, from_ref, to_ref, include_held=include_held)
    if pair is None:
        return None
    a, b = pair[0]["verdict_id"], pair[1]["verdict_id"]
    return explain_pairs(store, [(a, b)], personas)[b]


def explain_latest(store: Warehouse, slug: str, personas: list[Persona] | None = None) -> Change | None:
    """Why the tool's newest verdict, held or not, differs from the published one before it (None: nothing to
    compare yet). For the review queue and held-verdict artifacts: `toolpanel.why.words.summary(change)` is the sentence,
    `change` the details."""
    try:
        return explain(store, slug, personas=personas, include_held=True)
    except WarehouseBusy:
        raise
    except ToolpanelError:
        return None


def _index(store: Warehouse, slug: str, rows: list[dict], ref: str) -> int:
    for i, r in enumerate(rows):
        if ref in (r["run_id"], r["verdict_id"]):
            return i
    run = store.query("SELECT r.slug, coalesce(x.status, 'running') AS status FROM runs r "
                      "LEFT JOIN run_results x USING (run_id) WHERE r.run_id = ?", [ref])
    if run and run[0]["slug"] != slug:
        problem = f"run '{ref}' reviewed {run[0]['slug']}, not {slug}"
    elif run:
        problem = f"run '{ref}' of {slug} has no verdict (it ended {run[0]['status']})"
    else:
        problem = f"no run or verdict '{ref}' for {slug}"
    raise ToolpanelError(problem, f"pick a run with a verdict: toolpanel history {slug} --json lists them")
