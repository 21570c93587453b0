"""The benchmarks still run (tiny sizes); their figures are measured by `make bench`, never asserted here."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers import ROOT


def test_bench_smoke_runs_and_prints_ratios(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", "--only", "5,6,8"],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    for name in ("5b. latest verdicts (analyst snapshot)", "6a. publish", "6b. incremental republish",
                 "8b. share of a persona prompt that is a common prefix"):
        assert name in r.stdout, r.stdout
