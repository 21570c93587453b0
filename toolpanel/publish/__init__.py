"""Publishing (owns: the static site, feeds and the weekly digest, rendered from the warehouse; and which
comparison pages get the chair's answer after a review run, answers.py: publishing never calls a model).

May import: toolpanel.models, summaries, errors, sections, scorecard, text, why, queue.views, scoring, warehouse;
panel (answers.py: the chair's call on a review run's panel).
Page types are registered in publish/pages/; templates are in publish/templates/.
"""
