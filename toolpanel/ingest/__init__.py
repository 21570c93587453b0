"""Ingest (owns: cards, RSS/Atom, JSON Feed and CSV/JSON launch lists -> Tool, identity, change detection,
community votes).

May import: toolpanel.models, errors, sections, text, screening (to screen vendor text), warehouse.
fetch.py (polite HTTP) and run.py (orchestration) do I/O; urls, normalize, feeds, identity are pure.
"""
