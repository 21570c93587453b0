"""The review path's defence against vendor text addressed to the panel (owns: finding it, double-checking
it, and measuring it).

rules.py (rules by pattern, from screening/rules.yaml), meaning.py (rules by meaning, 15 languages),
normalise.py (the views the rules read), model.py (the optional model screen), differential.py (the
differential review of a neutralised copy), redteam.py + attackgen.py (the attack suite and its figures),
redchair.py (the scripted adversaries as the chair, and whether a panel summary was steered).

May import: toolpanel's top-level modules, scoring, warehouse, toolpanel.panel's prompts, take contract and
LLM seam (the panel itself is reached through models.Reviewer; redteam.py alone runs whole reviews).
"""
