"""Dishonest chair replies against the chair's checks (toolpanel/panel/chair.py `parse` + `check`); writes
bench/chair.json.

    .venv/bin/python bench/chair_attacks.py [--generated N] [--seed S] [--sealed]

Per set: cases; dishonest replies rejected (recall); honest replies accepted (and the false-rejection rate);
markup kept as data or rejected; which cases went wrong. Sets (tests/chair_cases.py):

- seen: tests/fixtures/chair_attacks/, written from the threat list apart from the checks;
- generated: N cases from `--seed` (an honest summary of generated takes with one dishonest or one benign
  mutation), never used to tune the checks;
- sealed: tests/fixtures/chair_attacks_sealed/, only with `--sealed`: run once, at the end. Its first run is
  kept as `sealed_first_run` (later runs update `sealed` only), so a fix made after it shows as before/after.

The entries of sets not run this time are kept from the previous file.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import machine_speed  # noqa: E402
from tests import chair_cases as cc  # noqa: E402

OUT = ROOT / "bench" / "chair.json"


def measure(cases: list[cc.Case]) -> dict:
    t0 = time.perf_counter()
    outcomes = [cc.run(c) for c in cases]
    seconds = time.perf_counter() - t0
    t = cc.tally(outcomes)
    by: dict[str, dict] = {}
    for o in outcomes:
        if o.case.expect == "reject":
            row = by.setdefault(o.case.threat, {"dishonest": 0, "rejected": 0})
            row["dishonest"] += 1
            row["rejected"] += o.rejected
    return {**t, "by_threat": dict(sorted(by.items())), "check_ms_per_case": round(1000 * seconds / len(cases), 3)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--generated", type=int, default=1000, help="generated cases (default 1000)")
    ap.add_argument("--seed", type=int, default=2027, help="the generated cases' seed")
    ap.add_argument("--sealed", action="store_true", help="also run the sealed set (once, at the end)")
    args = ap.parse_args(argv)
    speed = machine_speed()
    print(f"machine speed: fixed CPU loop {speed:.3f}s (3M iterations; larger is slower)", flush=True)
    rnd = random.Random(args.seed)
    sets = {"seen": cc.load_set(cc.SEEN), "generated": [cc.generate(rnd) for _ in range(args.generated)]}
    if args.sealed:
        sets["sealed"] = cc.load_set(cc.SEALED)
    data = json.loads(OUT.read_text(encoding="utf-8")) if OUT.exists() else {}
    data.pop("command", None)
    for name, cases in sets.items():
        entry = measure(cases)
        if name == "generated":
            entry["seed"] = args.seed
        data[name] = entry
        if name == "sealed" and "sealed_first_run" not in data:
            data["sealed_first_run"] = entry
        print(f"{name:>10}: {entry['cases']} cases; dishonest rejected {entry['rejected_when_dishonest']} of "
              f"{entry['dishonest']} (recall {entry['recall']}); honest accepted {entry['accepted_when_honest']} of "
              f"{entry['honest']}; markup rejected {entry['markup_rejected']} of {entry['markup']}")
        for key in ("missed", "falsely_rejected", "crashed"):
            for item in entry[key]:
                print(f"            {key}: {item}")
    data["machine"] = {"cpu_loop_s": round(speed, 3), "note": "a fixed CPU loop, 3M iterations (bench/run.py figure "
                                                              "0); larger is slower"}
    out = {"command": "python bench/chair_attacks.py" + (" --sealed" if "sealed" in data else ""), **data}
    OUT.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
