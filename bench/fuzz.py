"""`make fuzz`: the hostile-input property of tests/test_fuzz.py on many more cases; writes bench/fuzz.json.

FUZZ_SEED (default 1) and FUZZ_CASES (default 2000) choose the run; cases are split into batches of 200,
each batch one `toolpanel ingest` subprocess under 1 GB of address space and 60 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import fuzzing  # noqa: E402

BATCH = 200


def main() -> int:
    seed = int(os.environ.get("FUZZ_SEED", "1"))
    cases = int(os.environ.get("FUZZ_CASES", "2000"))
    counts: Counter = Counter()
    failures: list[dict] = []
    tried = 0
    started = time.monotonic()
    for k, start in enumerate(range(0, cases, BATCH)):
        n = min(BATCH, cases - start)
        with tempfile.TemporaryDirectory(prefix="toolpanel-fuzz-") as tmp:
            sc = fuzzing.build(Path(tmp), seed + k, n)
            try:
                proc = fuzzing.run_ingest(sc)
                problems = fuzzing.check(sc, proc)
            except subprocess.TimeoutExpired:
                problems = [f"no answer within {fuzzing.TIME_LIMIT:g} s"]
            counts.update(sc.counts)
            tried += n
            failures += [{"seed": seed + k, "cases": n, "failure": p} for p in problems]
        print(f"batch seed {seed + k}: {n} cases, {len(problems)} failures", flush=True)
    result = {"seed": seed, "cases": tried, "batches": -(-cases // BATCH), "seconds": round(time.monotonic() - started, 1),
              "memory_limit_bytes": fuzzing.MEMORY_BYTES, "time_limit_seconds": fuzzing.TIME_LIMIT,
              "per_class": dict(sorted(counts.items())), "failures": failures}
    (ROOT / "bench" / "fuzz.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"{tried} cases, {len(failures)} failures -> bench/fuzz.json")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
