"""Pure scoring (owns: takes -> Verdict, two verdicts -> Comparison, hold rules, eval statistics).

May import: toolpanel.models and toolpanel.sections only. No I/O, no prefect/openai/duckdb.
The verdict rule is scoring/rules.py; hold rules are one file each in scoring/holdrules/; herding between a
deliberating panel's two rounds is scoring/deliberation.py.
"""
