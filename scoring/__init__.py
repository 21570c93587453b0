"""Pure scoring: takes -> Verdict, two verdicts -> Comparison. No I/O, no prefect/openai/duckdb."""

from scoring.rules import QUORUM, SHIP_THRESHOLD, compare, panel_verdict, shortfall, verdict

__all__ = ["QUORUM", "SHIP_THRESHOLD", "compare", "panel_verdict", "shortfall", "verdict"]
