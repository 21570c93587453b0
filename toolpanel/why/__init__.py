"""Why a verdict changed (owns: attribution and its words): changes.py attributes a change to its causes
over plain data, words.py says it (the `why` command, the page, the digest), textdiff.py diffs texts;
rounds.py says what changed between a deliberating panel's two rounds.

Pure: no I/O. May import: toolpanel.models, toolpanel.text, toolpanel.panel.provider (endpoint names),
scoring.deliberation (herding).
warehouse.changes loads the facts.
"""
