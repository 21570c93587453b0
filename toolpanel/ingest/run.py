"""The ingest stage: read sources, normalise, resolve identity, enrich, classify; record what happened."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from toolpanel.sections import Limits
from toolpanel.config import Settings
from toolpanel.ingest.drafts import Draft, source_drafts
from toolpanel.ingest.enrich import combine, page_description
from toolpanel.ingest.fetch import BudgetSpent, FetchFailed, Fetcher
from toolpanel.ingest.identity import Candidate, Known, resolve
from toolpanel.ingest.models import STATUSES, ItemOutcome, Rejection, SourceOutcome
from toolpanel.sections import Politeness
from toolpanel.ingest.sources import SourceSpec, adhoc_sources, configured_sources, politeness
from toolpanel.ingest.urls import BadURL, identity_key
from toolpanel.ingest.intake import Intake, classify, panel_version
from toolpanel.models import Tool
from warehouse.store import Warehouse
from warehouse.rows import new_id, now

log = logging.getLogger("toolpanel.ingest")
log.addHandler(logging.NullHandler())  # the CLI prints its own lines; flows log through Prefect


@dataclass
class IngestReport:
    """Everything one ingest saw: per source, per item, and the accepted tools classified for review."""

    sources: list[SourceOutcome]
    items: list[ItemOutcome]
    intakes: list[Intake] = field(default_factory=list)
    requests: dict[str, int] = field(default_factory=dict)  # per host, this run

    @property
    def tools(self) -> list[Tool]:
        return [i.tool for i in self.intakes]

    @property
    def rejections(self) -> list[Rejection]:
        """Whole sources first, then items, in source order."""
        out = []
        for s in self.sources:
            if s.error:
                out.append(s.error)
            out.extend(i.rejection for i in self.items if i.source == s.name and i.rejection)
        return out

    def counts(self, source: str | None = None) -> dict[str, int]:
        c = Counter(i.status for i in self.items if source is None or i.source == source)
        failed = sum(1 for s in self.sources if s.error and (source is None or s.name == source))
        return {s: c.get(s, 0) + (failed if s == "rejected" else 0) for s in STATUSES}

    def to_json(self) -> dict:
        return {
            "sources": [s.model_dump(mode="json", exclude={"error"}) | {
                "error": str(s.error) if s.error else None, "counts": self.counts(s.name)} for s in self.sources],
            "items": [i.model_dump(mode="json", exclude={"tool", "rejection", "deferral", "item_hash"}) for i in self.items],
            "rejections": [r.model_dump(exclude={"cap"}) | {"message": str(r)} for r in self.rejections],
            "counts": self.counts(),
            "requests": self.requests,
        }


def _known(state: dict[str, list[dict]]) -> Known:
    url_slugs: dict[str, str] = {}
    owners: dict[str, str] = {}
    slug_keys: dict[str, str | None] = {}
    for row in state["snapshots"]:
        try:
            key = identity_key(row["url"]) if row["url"] else None
        except BadURL:
            key = None
        slug_keys[row["slug"]] = key
        if key:
            url_slugs.setdefault(key, row["slug"])
    for row in state["urls"]:  # oldest first: the first source to bring a tool in owns it
        url_slugs[row["url_key"]] = row["slug"]
        owners.setdefault(row["slug"], row["source"])
        slug_keys.setdefault(row["slug"], row["url_key"])
    return Known(url_slugs, slug_keys, owners)


def _enrich(d: Draft, slug: str, fetcher: Fetcher, sightings: dict, pol: Politeness) -> tuple[Tool, bool]:
    """The draft's tool with the page's text added when its own is too short; raises FetchFailed/BudgetSpent."""
    tool = d.tool.model_copy(update={"slug": slug})
    if d.card or not d.spec.enrich or len(tool.description) >= pol.min_description:
        return tool, False
    prev = sightings.get((d.spec.name, slug))
    if prev and prev["item_hash"] == d.item_hash and prev["enriched"] and prev["description"]:
        # The item itself has not changed: keep the page text read back then (stored with the reviewed
        # snapshot), so a page that changes every day (counters, dates) never makes the tool look "changed".
        return tool.model_copy(update={"description": prev["description"]}), True
    try:
        page = page_description(fetcher, tool.url)
    except BudgetSpent:
        raise
    except FetchFailed as exc:
        if tool.description:
            log.info("%s: %s: not enriched: %s", d.spec.name, d.label, exc.problem)
            return tool, False
        raise FetchFailed(f"is missing, and the tool's page could not be read: {exc.problem}", exc.fix) from None
    return tool.model_copy(update={"description": combine(tool.description, page)}), True


def _accept(drafts: list[Draft], decisions: list, fetcher: Fetcher, sightings: dict, pol: Politeness,
            limits: Limits, outcomes: list[ItemOutcome]) -> list[tuple[Draft, Tool, bool, str | None]]:
    """Duplicates, deferrals and failed enrichments go to `outcomes`; the rest come back with their final tool."""
    accepted = []
    cap = limits.message_chars
    for d, dec in zip(drafts, decisions):
        base = dict(source=d.spec.name, item=d.label, index=d.index, slug=dec.slug, name=d.tool.name,
                    url=d.tool.url, item_hash=d.item_hash)
        if dec.duplicate_of:
            outcomes.append(ItemOutcome(**base, status="duplicate", reason=dec.note or ""))
            continue
        try:
            tool, enriched = _enrich(d, dec.slug, fetcher, sightings, pol)
        except BudgetSpent as exc:
            later = Rejection.of(exc, source=d.spec.name, item=d.label, url=d.tool.url, cap=cap)
            outcomes.append(ItemOutcome(**base, status="deferred", reason=later.reason, deferral=later))
            continue
        except FetchFailed as exc:
            rej = Rejection(source=d.spec.name, item=d.label, url=d.tool.url, field="description",
                            problem=exc.problem, fix=exc.fix, cap=cap)
            outcomes.append(ItemOutcome(**base, status="rejected", reason=rej.reason, rejection=rej))
            continue
        accepted.append((d, tool, enriched, dec.note))
    return accepted


def ingest(settings: Settings, specs: list[SourceSpec], *, record: bool, trigger: str = "daily") -> IngestReport:
    """Read `specs`; with `record`, write source runs, rejections, sightings and URL identities to the warehouse.

    Nothing is reviewed here. Without `record` nothing is written (a preview: `toolpanel ingest`).
    """
    pol = politeness(settings)
    store = Warehouse(settings.warehouse_path)
    exists = settings.warehouse_path.exists()
    state = store.ingest_state() if exists else {"urls": [], "snapshots": [], "sightings": []}
    known = _known(state)
    sightings = {(r["source"], r["slug"]): r for r in state["sightings"]}
    outcomes: list[ItemOutcome] = []
    sources: list[SourceOutcome] = []
    drafts: list[Draft] = []
    with Fetcher(timeout=pol.timeout, max_bytes=settings.limits.source_bytes,
                 requests_per_host=pol.requests_per_host) as fetcher:
        for spec in specs:
            so = SourceOutcome(name=spec.name, kind=spec.kind, location=spec.location, adhoc=spec.adhoc,
                               started_at=now())
            drafts.extend(source_drafts(spec, fetcher, settings.limits, so, outcomes))
            so.finished_at = now()
            sources.append(so)
        order = {s.name: n for n, s in enumerate(specs)}
        drafts.sort(key=lambda d: (not d.card, order[d.spec.name]))  # stable: item order kept within a source
        decisions = resolve([Candidate(d.spec.name, d.card, d.tool, identity_key(d.tool.url) if d.tool.url else None)
                             for d in drafts], known, set(order))
        accepted = _accept(drafts, decisions, fetcher, sightings, pol, settings.limits, outcomes)
        requests = dict(fetcher.requests)
    tools = [t for _, t, _, _ in accepted]
    intakes = classify(store, tools, panel_version(settings)) if exists else [Intake(t, "new") for t in tools]
    for (d, tool, enriched, note), intake in zip(accepted, intakes):
        reason = intake.reason + (f"; {note}" if note else "")
        outcomes.append(ItemOutcome(source=d.spec.name, item=d.label, index=d.index, status=intake.status,
                                    slug=tool.slug, name=tool.name, url=tool.url, reason=reason, enriched=enriched,
                                    item_hash=d.item_hash, tool=tool))
    by_source = {s.name: sorted((o for o in outcomes if o.source == s.name), key=lambda o: o.index)
                 for s in sources}
    outcomes = [o for s in sources for o in by_source[s.name]]
    # The review order is the order given (sources, then their items), not the identity priority.
    rank = {id(o.tool): n for n, o in enumerate(outcomes) if o.tool is not None}
    intakes.sort(key=lambda i: rank[id(i.tool)])
    report = IngestReport(sources, outcomes, intakes, requests)
    _log(report)
    if record:
        _record(store, report, trigger)
    return report


def _log(report: IngestReport) -> None:
    for s in report.sources:
        c = report.counts(s.name)
        log.info("%s (%s): %d items — %s", s.name, s.kind, s.items,
                 ", ".join(f"{v} {k}" for k, v in c.items()))
    for r in report.rejections:
        log.warning("rejected %s", r)
    for o in report.items:
        if o.status == "deferred":
            log.warning("deferred %s: %s: %s", o.source, o.item, o.reason)


def _record(store: Warehouse, report: IngestReport, trigger: str) -> None:
    batch = new_id("ing")
    runs, rejections, sightings, urls = [], [], [], []
    for s in report.sources:
        run_id = new_id("src")
        c = report.counts(s.name)
        runs.append({"source_run_id": run_id, "batch_id": batch, "source": s.name, "kind": s.kind,
                     "location": s.location, "adhoc": s.adhoc, "trigger": trigger, "status": s.status,
                     "error": s.error.reason if s.error else None, "items": s.items, "new_tools": c["new"],
                     "changed": c["changed"], "pending": c["pending"], "stale": c["stale"], "unchanged": c["unchanged"],
                     "duplicates": c["duplicate"], "deferred": c["deferred"], "rejected": c["rejected"],
                     "notes": s.notes, "started_at": s.started_at, "finished_at": s.finished_at or s.started_at})
        errors = ([s.error] if s.error else []) + [o.rejection for o in report.items
                                                     if o.source == s.name and o.rejection]
        for r in errors:
            rejections.append({"rejection_id": new_id("rej"), "source_run_id": run_id, "source": s.name,
                               "item": r.item, "url": r.url, "field": r.field, "reason": r.reason,
                               "created_at": now()})
        for o in report.items:
            if o.source != s.name or o.status not in ("new", "changed", "pending", "stale", "unchanged", "duplicate"):
                continue
            sightings.append({"source_run_id": run_id, "source": s.name, "slug": o.slug, "url": o.url,
                              "item_hash": o.item_hash, "snapshot_hash": o.tool.snapshot_hash if o.tool else None,
                              "enriched": o.enriched, "status": o.status, "seen_at": now()})
            if o.tool is not None and o.url:
                urls.append({"url_key": identity_key(o.url), "url": o.url, "slug": o.slug, "source": s.name,
                             "first_seen": now()})
    store.record_ingest(runs, rejections, sightings, urls)


def ingest_configured(settings: Settings, *, record: bool = True, trigger: str = "daily") -> IngestReport:
    """The daily run's intake: every configured source."""
    return ingest(settings, configured_sources(settings), record=record, trigger=trigger)


def review_sources(settings: Settings, args: list[str]) -> tuple[list[Tool], list[Rejection]]:
    """`toolpanel review ARG...`: cards exactly as before, plus feeds/lists (files, URLs, configured names)."""
    report = ingest(settings, adhoc_sources(settings, args), record=True, trigger="review")
    problems = list(report.rejections)
    problems += [o.deferral.model_copy(update={"problem": "deferred: " + o.deferral.problem})
                 for o in report.items if o.deferral is not None]
    return report.tools, problems

