"""Publishing (owns: the static site, feeds and the weekly digest, rendered from the warehouse).

May import: toolpanel.models, errors, sections, scorecard, text, why, queue.views, scoring, warehouse.
Page types are registered in publish/pages.py; templates are in publish/templates/.
"""
