"""Why a verdict changed (owns: attribution and its words): changes.py attributes a change to its causes
over plain data, words.py says it (the `why` command, the page, the digest), textdiff.py diffs texts.

Pure: no I/O. May import: toolpanel.models, toolpanel.text, toolpanel.panel.provider (endpoint names).
warehouse.changes loads the facts.
"""
