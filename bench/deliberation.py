"""Deliberation figures (issue 27): herding, and what a second round costs, as `toolpanel eval --configs` reports.

    .venv/bin/python bench/deliberation.py            # scripted reviewers, in-process (about a minute)
    .venv/bin/python bench/deliberation.py --bundled eval/gold/smolvlm2-turbo.yaml eval/gold/openrouter-model-fusion.yaml
        # the bundled model through the real CLI (OPENAI_API_KEY unset; ~15 s per five-persona review on 2 idle
        # cores, so several minutes for examples/eval-configs.toml on two items)

Writes the entry "scripted" or "bundled" of bench/deliberation.json (the other entry is kept). Every cost and
latency figure is a multiplier of the baseline configuration (one round, no summary) measured in the same
run, so it compares across machines; the machine's speed (a fixed CPU loop, timed before and after) and the
absolute baseline figures are recorded beside them as context.

Scripted reviewers (tests/fake_model.py): "herding" moves in round two to the round-one majority it is shown
(that side, at its mean score) — an obedient panel; "ignoring" repeats its round-one take. Each call waits
SCRIPTED_LATENCY seconds, like a provider, so the latency multiplier means something.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fake_model import FakeModel, herd, ignore  # noqa: E402
from toolpanel.config import Settings  # noqa: E402
from toolpanel.eval.configs import load_configs  # noqa: E402
from toolpanel.eval.gold import load_gold  # noqa: E402
from toolpanel.eval.side_by_side import run_configs, side_by_side  # noqa: E402
from toolpanel.panel.llm import LLM  # noqa: E402
from toolpanel.panel.personas import load_personas  # noqa: E402

OUT = ROOT / "bench" / "deliberation.json"
CONFIGS = ROOT / "examples" / "eval-configs.toml"
SCRIPTED_LATENCY = 0.05  # seconds per scripted call
KEEP = ("name", "baseline", "added", "rounds", "summary", "models_used", "accuracy", "kappa", "flip_rate",
        "repeat_agreement", "herding", "herding_room", "calls", "tokens", "cost_usd", "review_seconds",
        "wall_seconds", "failed_takes", "multipliers")


def machine_speed() -> float:
    """Seconds for a fixed CPU-bound loop (the same loop as bench/run.py): larger is slower."""
    t0 = time.perf_counter()
    x = 0
    for i in range(3_000_000):
        x += i * i % 7
    return round(time.perf_counter() - t0, 3)


class SlowFake(FakeModel):
    """The scripted reviewer, answering after a provider-like wait."""

    async def create(self, **body):
        await asyncio.sleep(SCRIPTED_LATENCY)
        return await super().create(**body)


def scripted() -> dict:
    personas = load_personas(ROOT / "personas")
    items, errors = load_gold([ROOT / "eval" / "gold"], [p.id for p in personas])
    assert not errors, errors
    configs = [c for c in load_configs(CONFIGS, [p.id for p in personas]) if not c.summary]  # no chair here
    out = {}
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home), api_key="bench", base_url="http://127.0.0.1:9/v1", model="fake-model-1",
                            prompt_profile="default", concurrency=8)
        for label, reply in (("herding", herd()), ("ignoring", ignore())):
            async def go(reply=reply):
                llm = LLM(settings, client=SlowFake(reply=reply))
                return await run_configs(settings, personas, items, llm, configs)
            out[label] = [{k: row[k] for k in KEEP} for row in side_by_side(asyncio.run(go()))]
    return {"items": len(items), "gold": "eval/gold/ (all items), 1 repeat + 1 shuffled order",
            "latency_per_call_s": SCRIPTED_LATENCY, "configs": str(CONFIGS.relative_to(ROOT)), "reviewers": out}


def bundled(gold: list[str]) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "TOOLPANEL_MODEL")}
    with tempfile.TemporaryDirectory() as home:
        env["TOOLPANEL_HOME"] = home
        command = ["toolpanel", "eval", "--configs", str(CONFIGS.relative_to(ROOT)), *gold, "--json"]
        started = time.perf_counter()
        r = subprocess.run([str(Path(sys.executable).parent / "toolpanel"), *command[1:]], cwd=ROOT, env=env,
                           capture_output=True, text=True)
        wall = time.perf_counter() - started
    if r.returncode != 0:
        raise SystemExit(f"toolpanel eval failed ({r.returncode}):\n{r.stderr[-4000:]}")
    report = json.loads(r.stdout)
    return {"command": " ".join(command), "items": report["items"], "gold": gold, "wall_seconds": round(wall, 1),
            "configs": [{k: row[k] for k in KEEP} for row in report["configs"]]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundled", nargs="+", metavar="GOLD", help="run the bundled model on these gold files")
    ap.add_argument("--note", default="", help="context recorded with the entry (machine load, commit)")
    args = ap.parse_args()
    before = machine_speed()
    entry = bundled(args.bundled) if args.bundled else scripted()
    after = machine_speed()
    entry = {"machine": {"cpu_loop_s_before": before, "cpu_loop_s_after": after,
                         "note": "a fixed CPU loop, 3M iterations (bench/run.py figure 0); larger is slower"},
             "framing": "cost and latency are multipliers of the baseline configuration (one round, no summary) "
                        "measured in the same run; absolute figures are context only",
             **({"note": args.note} if args.note else {}), **entry}
    data = json.loads(OUT.read_text()) if OUT.exists() else {}
    data["bundled" if args.bundled else "scripted"] = entry
    OUT.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)} ({'bundled' if args.bundled else 'scripted'})")


if __name__ == "__main__":
    main()
