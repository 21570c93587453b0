"""`make test` before and after a change, back to back on one machine (issue 25: "no slower").

    .venv/bin/python bench/suite_timing.py BEFORE AFTER [--workdir DIR]
        # clones this repository at each commit into DIR/before and DIR/after, installs each (`make install`,
        # not timed), then times `CI=true make test` in before, then in after, one right after the other
    .venv/bin/python bench/suite_timing.py BEFORE AFTER --logs DIR
        # only reads DIR/before and DIR/after as the first form leaves them (test.log, start, end)

Nothing else should run meanwhile: the suite's Prefect and browser tests have fixed timeouts, and any other
load lands on whichever run it overlaps. Writes bench/suite.json: per commit the wall seconds of `make test`,
pytest's own seconds, the tests passed / failed / skipped, seconds per test and the slowest tests
(`--durations`); after/before ratios of the total and per test. The machine's speed (the fixed CPU loop of
bench/harness.py) is timed before the first run and after the last one, as context: the ratio is the figure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import machine_speed  # noqa: E402

OUT = ROOT / "bench" / "suite.json"
# pytest's last line, with -q bare ("1 failed, 739 passed in 1443.70s (0:24:03)"), else between "=" rules
SUMMARY = re.compile(r"^=*\s*(?P<body>\d+ \w+(?:, \d+ \w+)*) in (?P<secs>[\d.]+)s(?: \([\d:]+\))?\s*=*\s*$", re.M)
DURATION = re.compile(r"^(?P<secs>[\d.]+)s (?P<phase>call|setup|teardown)\s+(?P<test>\S+)", re.M)


def parse(log: str) -> dict:
    """pytest's counts and seconds from a `make test` log (with `--durations`)."""
    found = list(SUMMARY.finditer(log))
    if not found:
        raise SystemExit("no pytest summary line in the log: did `make test` run to the end?")
    last = found[-1]
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed|rerun)",
                                               last.group("body"))}
    slow: dict[str, float] = {}
    for m in DURATION.finditer(log):
        slow[m.group("test")] = round(slow.get(m.group("test"), 0.0) + float(m.group("secs")), 2)
    tests = sum(counts.get(k, 0) for k in ("passed", "failed", "skipped"))
    secs = float(last.group("secs"))
    return {"pytest_seconds": secs, "counts": counts, "tests": tests,
            "seconds_per_test": round(secs / tests, 3) if tests else None,
            "slowest": dict(sorted(slow.items(), key=lambda kv: -kv[1])[:15])}


def run(workdir: Path, name: str, commit: str) -> None:
    where = workdir / name
    subprocess.run(["rm", "-rf", str(where)], check=True)
    subprocess.run(["git", "clone", "-q", str(ROOT), str(where)], check=True)
    subprocess.run(["git", "checkout", "-q", commit], cwd=where, check=True)
    subprocess.run(["make", "install"], cwd=where, check=True, stdout=subprocess.DEVNULL)


def time_suite(where: Path) -> None:
    env = {**os.environ, "CI": "true", "PYTEST_ADDOPTS": "--durations=60"}
    (where / "start").write_text(str(time.time()))
    with open(where / "test.log", "w") as log:
        rc = subprocess.run(["make", "test"], cwd=where, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    (where / "end").write_text(str(time.time()))
    (where / "rc").write_text(str(rc))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/suite-timing"))
    ap.add_argument("--logs", type=Path, help="read a finished run's DIR/before and DIR/after instead")
    args = ap.parse_args()
    speed_before = None
    workdir = args.logs or args.workdir
    if not args.logs:
        for name, commit in (("before", args.before), ("after", args.after)):
            run(workdir, name, commit)
        speed_before = machine_speed()
        for name in ("before", "after"):
            time_suite(workdir / name)
    speed_after = machine_speed()
    out = {"before": {"commit": args.before}, "after": {"commit": args.after}}
    for name in ("before", "after"):
        where = workdir / name
        out[name].update(parse((where / "test.log").read_text(errors="replace")))
        out[name]["make_test_seconds"] = round(float((where / "end").read_text()) - float((where / "start").read_text()), 1)
    b, a = out["before"], out["after"]
    out["ratio"] = {"make_test": round(a["make_test_seconds"] / b["make_test_seconds"], 3),
                    "pytest": round(a["pytest_seconds"] / b["pytest_seconds"], 3),
                    "per_test": round(a["seconds_per_test"] / b["seconds_per_test"], 3)}
    out["machine"] = {"cpu_loop_seconds_before": speed_before and round(speed_before, 3),
                      "cpu_loop_seconds_after": round(speed_after, 3), "cores": os.cpu_count(),
                      "note": "the runs went back to back with nothing else running; the ratio is the figure"}
    OUT.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(json.dumps({k: out[k] for k in ("ratio", "machine")}, indent=1))
    for name in ("before", "after"):
        x = out[name]
        print(f"{name} {x['commit']}: make test {x['make_test_seconds']} s, pytest {x['pytest_seconds']} s, "
              f"{x['counts']}, {x['seconds_per_test']} s per test")


if __name__ == "__main__":
    main()
