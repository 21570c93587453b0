"""The review queue and the read models over the warehouse (owns: what is held, an editor's decision,
and the published view every reader of verdicts shares: CLI, flows and site).

held.py (held items, approve/reject), views.py (a tool's published view, comparisons, held marks).
May import: toolpanel's top-level modules, scoring, warehouse.
"""
