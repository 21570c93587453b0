"""The panel (owns: asking the personas for takes, and everything a take needs).

personas.py (persona files), prompts.py (Jinja2 prompts), take.py + patterns.py (the take contract),
llm.py (the one LLM seam, the official openai client), provider.py + local_model.py (which provider,
the bundled model), budget.py (spend caps), review.py (one tool: cache, takes, verdict, warehouse),
batch.py (many tools: the batch loop of the CLI and the flows), summary.py (the run's one summary),
chair.py (the panel summary of a verdict: one checked call by the chair model; chairtext.py: what its texts
may name, claim and hold), pairs.py (a comparison's
answer: the same chair, both panels' takes), sidecall.py (a budgeted call outside the take contract: the
chair's, the model screen's), rounds.py + second_round.py
(`[panel] rounds = 2`: who is asked again and what each one reads; the review's round two).

May import: toolpanel's top-level modules, scoring, warehouse, toolpanel.screening (the review path's
defence) and toolpanel.ingest.cardyaml (persona files are read under the card rules).
"""
