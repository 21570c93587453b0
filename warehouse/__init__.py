"""The DuckDB warehouse (owns: append-only history, the cache of takes, the analyst snapshot).

May import: toolpanel.models, toolpanel.errors, toolpanel.sections, scoring and toolpanel.why (pure).
The `Warehouse` is warehouse/store.py; migrations are listed in order in warehouse/migrations/__init__.py.
"""
