"""Where a batch's time goes: the daily flow process sampled by py-spy (all threads), grouped by part.

    python bench/profile_batch.py [N_TOOLS]      # writes bench/profile.json (default 200 tools, 0.1 s latency)

The flow runs as its own process (as a served deployment's run does); the fake provider and the Prefect
server run in other processes and are not in the samples. Only samples where a thread was on the CPU
count (py-spy's default), so waiting for the provider is not "time spent".
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import tempfile
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import _warm_mode, home, make_cards, provider, run_measured  # noqa: E402
from tests.fake_openai import FakeOpenAI  # noqa: E402

PARTS = (  # the first part any frame of a stack belongs to decides, in this order
    (("_find_and_load",), "imports (process start)"),
    (("(duckdb", "(warehouse/"), "DuckDB"),
    (("(toolpanel/publish",), "publishing the site"),
    (("(jinja2/",), "prompt rendering (Jinja2)"),
    (("(toolpanel/ingest", "(toolpanel/cards", "(feedparser", "(yaml/"), "ingest (cards, feeds)"),
    (("(openai/",), "openai client + HTTP"),
    (("(prefect/",), "Prefect (task runs, states, API client)"),
    (("(pydantic",), "pydantic validation"),
    (("(httpx", "(httpcore", "(h11/", "(anyio/"), "HTTP (other)"),
    (("(asyncio/", "(selectors"), "asyncio event loop"),
    (("(toolpanel/", "(scoring/", "(flows/"), "toolpanel (panel, scoring glue)"),
)


def part_of_stack(stack: str) -> str:
    for fragments, part in PARTS:
        if any(f in stack for f in fragments):
            return part
    return "other (stdlib, threads, interpreter)"


def main(n: int) -> None:
    from flows.serve import prefect_server
    from toolpanel.config import load_settings

    spy = str(Path(sys.executable).parent / "py-spy")
    flow = [sys.executable, "-c", "import asyncio; from flows.reviews import daily_review; asyncio.run(daily_review())"]
    with FakeOpenAI(latency=0.1) as fake, home(provider(fake) | {"PREFECT_UI_ENABLED": "false",
                                                                   "PYTHONPATH": str(ROOT)}) as tmp:
        make_cards(tmp / "cards", n)
        (tmp / "toolpanel.toml").write_text('[provider]\nconcurrency = 32\n\n[sources.bench]\nkind = "cards"\n'
                                            'path = "cards"\n\n[flows]\neditor_reserve = 0\n')
        settings = load_settings()
        _warm_mode(settings)
        with prefect_server(settings) as api, tempfile.NamedTemporaryFile(suffix=".txt") as raw:
            t0 = time.perf_counter()
            subprocess.run([spy, "record", "-r", "100", "-f", "raw", "-o", raw.name, "--", *flow], check=True,
                           env={**os.environ, "PREFECT_API_URL": api}, capture_output=True)
            wall = time.perf_counter() - t0
            samples = Path(raw.name).read_text().splitlines()
            plain, _, _ = run_measured(flow, env={"PREFECT_API_URL": api})  # re-run: nothing to review
    by_part: dict[str, int] = {}
    for line in samples:
        stack, _, count = line.rpartition(" ")
        if stack:
            by_part[part_of_stack(stack)] = by_part.get(part_of_stack(stack), 0) + int(count)
    total = sum(by_part.values()) or 1
    rows = sorted(by_part.items(), key=lambda kv: -kv[1])
    report = {"tools": n, "latency_s": 0.1, "concurrency": 32, "wall_s_under_profiler": round(wall, 2),
              "cpu_s_sampled": round(total / 100, 2), "ideal_s": round(n * 5 * 0.1 / 32, 2),
              "rerun_nothing_to_review_s": round(plain, 2),
              "share_of_cpu_pct": {k: round(100 * v / total, 1) for k, v in rows}}
    (ROOT / "bench" / "profile.json").write_text(json.dumps(report, indent=1) + "\n")
    for k, v in rows:
        print(f"  {100 * v / total:5.1f}%  {v / 100:7.2f}s  {k}")
    print(f"wall {wall:.1f}s under the profiler for {n} tools (ideal {report['ideal_s']}s); "
          f"a re-run with nothing to review {plain:.1f}s; wrote bench/profile.json")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
