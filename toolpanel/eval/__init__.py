"""Evaluation against editor gold (owns: eval/gold/ files and the eval run): gold.py reads the gold set,
run.py reviews it with the production panel beside production (own tables) and computes the figures;
configs.py + side_by_side.py run configurations side by side (`toolpanel eval --configs FILE`).

May import: toolpanel's top-level modules, scoring (statistics), toolpanel.panel, toolpanel.ingest, warehouse.
"""
