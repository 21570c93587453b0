"""What the model screen ([screening] model) costs per card: its one call on each example card.

    .venv/bin/python bench/model_screen.py [--price-in 0.15 --price-out 0.60] [CARD ...]

Runs `toolpanel.screening.model` for real (prompt, seam, budget, cache rows in a scratch warehouse) against the
in-process fake at the LLM seam (tests/fake_model.py), which reports usage as the budget estimates it:
ceil(characters / 4) prompt tokens. The fake answers {"sentences": []} (a clean card); each flagged sentence
adds about its characters / 4 + 3 output tokens. Prints prompt tokens per card and min / median / max, and
writes bench/model_screen.json. Prices are the ones you would set in [prices."MODEL"] ($ per million tokens).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fake_model import FakeModel  # noqa: E402
from toolpanel.screening import model as modelscreen  # noqa: E402
from toolpanel.ingest.cards import load_card  # noqa: E402
from toolpanel.config import Settings  # noqa: E402
from toolpanel.panel.llm import LLM  # noqa: E402
from toolpanel.panel.review import Panel
from toolpanel.models import ReviewRequest
from toolpanel.panel.personas import load_personas  # noqa: E402
from toolpanel.sections import Price, ScreeningSettings  # noqa: E402
from warehouse.store import Warehouse  # noqa: E402

OUT = ROOT / "bench" / "model_screen.json"
MODEL = "screen-model"


async def measure(cards: list[Path], price: Price) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp), api_key="bench", base_url="http://127.0.0.1:9/v1",
                            screening=ScreeningSettings(model=MODEL), prices={MODEL: price})
        fake = FakeModel(reply=lambda req: {"sentences": []})
        llm = LLM(settings, client=fake)
        store = Warehouse(Path(tmp) / "w.duckdb")
        with store.connect():  # migrations
            pass
        panel = Panel(settings, llm, store, load_personas(settings.personas_dir))
        out = []
        for path in cards:
            tool = load_card(path)
            await modelscreen.findings(panel, tool, ReviewRequest(), "bench", [])
            await modelscreen.findings(panel, tool, ReviewRequest(), "bench", [])  # cached: no second call
            (tin, tout, cost), = await panel.commit.run(lambda con: con.execute(
                "SELECT tokens_in, tokens_out, cost_usd FROM screen_cache WHERE slug = ?", [tool.slug]).fetchall())
            chars = sum(len(m["content"]) for m in fake.requests[-1].body["messages"])
            out.append({"card": path.name, "prompt_chars": chars,
                        "tokens_in": tin, "tokens_out": tout, "cost_usd": cost,
                        "reserved_tokens": tin + settings.max_tokens})
        assert len(fake.requests) == len(cards), "an unchanged card was screened twice"
        await llm.aclose()
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cards", nargs="*", type=Path)
    ap.add_argument("--price-in", type=float, default=0.15, help="$ per million input tokens (example)")
    ap.add_argument("--price-out", type=float, default=0.60, help="$ per million output tokens (example)")
    args = ap.parse_args()
    cards = args.cards or sorted((ROOT / "examples" / "tools").glob("*.md"))
    price = Price(input_per_million=args.price_in, output_per_million=args.price_out)
    rows = asyncio.run(measure(cards, price))
    tins = [r["tokens_in"] for r in rows]
    for r in rows:
        print(f"{r['card']:<32} {r['tokens_in']:>5} tokens in  {r['tokens_out']:>3} out  ${r['cost_usd']:.6f}")
    summary = {"min": min(tins), "median": statistics.median(tins), "max": max(tins)}
    costs = [r["cost_usd"] for r in rows]
    print(f"prompt tokens per card: min {summary['min']}, median {summary['median']}, max {summary['max']}; "
          f"cost per card at ${price.input_per_million}/${price.output_per_million} per million in/out: "
          f"${min(costs):.6f} to ${max(costs):.6f} (median ${statistics.median(costs):.6f})")
    OUT.write_text(json.dumps({
        "command": "python bench/model_screen.py" + (f" --price-in {args.price_in} --price-out {args.price_out}"),
        "counted_as": "ceil(characters / 4), as the budget estimates and the fake reports",
        "answer": '{"sentences": []}', "price_per_million": price.model_dump(),
        "prompt_tokens": summary, "cost_usd": {"min": min(costs), "median": statistics.median(costs),
                                               "max": max(costs)},
        "cards": rows}, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
