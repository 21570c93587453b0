"""Ingest: cards, RSS/Atom, JSON Feed and CSV/JSON launch lists -> Tool, with identity and change detection.

fetch.py (polite HTTP) and run.py (orchestration) do I/O; urls, normalize, feeds, identity are pure.
"""

from toolpanel.ingest.models import ItemOutcome, Rejection, SourceOutcome
from toolpanel.ingest.run import IngestReport, ingest, ingest_configured, review_sources
from toolpanel.ingest.sources import Politeness, SourceSpec, adhoc_sources, configured_sources

__all__ = ["IngestReport", "ItemOutcome", "Politeness", "Rejection", "SourceOutcome", "SourceSpec", "adhoc_sources",
           "configured_sources", "ingest", "ingest_configured", "review_sources"]
