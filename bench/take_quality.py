"""Take quality of a warehouse: contradictions, invalid output, grounding and the spread of verdicts.

    .venv/bin/python bench/take_quality.py WAREHOUSE.duckdb --label after [--note "..."]

Adds (or replaces) the entry `label` in bench/take_quality.json. Works on warehouses written before the
take contract (no evidence column, old flag band): those figures are null. Reads a copy, so a warehouse
held by a running review is never touched.
"""

from __future__ import annotations

import argparse
import collections
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scoring.rules import SHIP_THRESHOLD  # noqa: E402

OUT = ROOT / "bench" / "take_quality.json"


def _pct(n: int, d: int) -> float | None:
    return round(100 * n / d, 1) if d else None


def measure(path: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "w.duckdb"
        shutil.copy(path, copy)
        wal = path.with_name(path.name + ".wal")
        if wal.is_file():  # a review still running (or killed) keeps its latest takes there
            shutil.copy(wal, copy.with_name(copy.name + ".wal"))
        con = duckdb.connect(str(copy), read_only=True)
        cols = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns "
                                          "WHERE table_name = 'takes'").fetchall()}
        evidence = "evidence" if "evidence" in cols else "NULL::VARCHAR[]"
        takes = con.execute(f"SELECT status, score, verdict, coalesce(flags, []), error_class, error, {evidence} "
                            "FROM takes").fetchall()
        verdicts = con.execute("SELECT verdict, ship_count, skip_count, mean_score FROM latest_verdicts").fetchall()
        con.close()
    ok = [t for t in takes if t[0] == "ok"]
    counted_contradictions = [t for t in ok if (t[2] == "ship") != (t[1] >= SHIP_THRESHOLD)]
    repaired = [t for t in ok if "contradiction_repaired" in t[3]]
    failed_contradiction = [t for t in takes if t[0] == "failed" and "breaks the rule: the verdict must match" in
                            (t[5] or "")]
    invalid = [t for t in takes if t[4] == "invalid_output"]
    with_evidence = [t for t in ok if t[6] is not None]
    grounded = [t for t in with_evidence if t[6] and "ungrounded" not in t[3]]
    scores = [t[1] for t in ok]
    common = collections.Counter(scores).most_common(1)
    return {
        "takes": len(takes),
        "ok": len(ok),
        "abstained": sum(1 for t in takes if t[0] == "abstained"),
        "failed": sum(1 for t in takes if t[0] == "failed"),
        # A take whose first reply's verdict contradicted its score (counted, repaired or failed), per take.
        "contradiction_rate_pct": _pct(len(counted_contradictions) + len(repaired) + len(failed_contradiction),
                                       len(takes)),
        # Contradictory takes that were counted in a verdict (the bug: must be 0 under the contract).
        "counted_contradictions": len(counted_contradictions),
        "contradictions_repaired": len(repaired),
        "contradictions_failed": len(failed_contradiction),
        "invalid_output_rate_pct": _pct(len(invalid), len(takes)),
        "grounded_share_pct": _pct(len(grounded), len(with_evidence)) if with_evidence else None,
        "ship_takes": sum(1 for t in ok if t[2] == "ship"),
        "skip_takes": sum(1 for t in ok if t[2] == "skip"),
        "mean_score": round(statistics.fmean(scores), 1) if scores else None,
        "score_stdev": round(statistics.pstdev(scores), 1) if scores else None,
        "distinct_scores": len(set(scores)),
        "most_common_score": {"score": common[0][0], "takes": common[0][1]} if common else None,
        "panel_verdicts": dict(collections.Counter(v[0] for v in verdicts)),
        "panels": [{"verdict": v[0], "ship": v[1], "skip": v[2], "mean_score": v[3]} for v in verdicts],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("warehouse", type=Path)
    ap.add_argument("--label", required=True)
    ap.add_argument("--note", default="")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    figures = measure(args.warehouse) | ({"note": args.note} if args.note else {})
    data = json.loads(args.out.read_text()) if args.out.is_file() else {}
    data[args.label] = figures
    args.out.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(json.dumps({args.label: figures}, indent=1))


if __name__ == "__main__":
    main()
