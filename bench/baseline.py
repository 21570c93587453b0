"""The batch a competent user would write by hand: the baseline toolpanel's batch figures are divided by.

asyncio + the official openai client, the same prompts (rendered from prompts/), the same concurrency,
five calls per tool gathered, one DuckDB insert per tool. No cache, no history, no retries, no repair.

    python bench/baseline.py CARDS_DIR DB_FILE CONCURRENCY
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import duckdb
from openai import AsyncOpenAI

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from toolpanel.panel import prompts  # noqa: E402
from toolpanel.ingest.cards import load_cards  # noqa: E402
from toolpanel.panel.personas import load_personas  # noqa: E402


async def main(cards: Path, db: Path, concurrency: int) -> int:
    tools, _ = load_cards([cards])
    personas = load_personas(ROOT / "personas")
    client = AsyncOpenAI(base_url=os.environ["OPENAI_BASE_URL"], api_key=os.environ["OPENAI_API_KEY"])
    model = os.environ["TOOLPANEL_MODEL"]
    slots = asyncio.Semaphore(concurrency)
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE takes (slug VARCHAR, persona VARCHAR, score INT, verdict VARCHAR, paragraph VARCHAR)")

    async def call(messages: list[dict]) -> dict:
        async with slots:
            r = await client.chat.completions.create(model=model, messages=messages, max_tokens=600,
                                                     response_format={"type": "json_object"})
        return json.loads(r.choices[0].message.content)

    async def review(tool) -> None:
        shared = prompts.shared_messages(ROOT / "prompts", tool, prompts.new_marker(), personas)
        outs = await asyncio.gather(*(call(shared + [prompts.persona_message(ROOT / "prompts", p)])
                                      for p in personas))
        con.executemany("INSERT INTO takes VALUES (?, ?, ?, ?, ?)",
                        [(tool.slug, p.id, o.get("score"), o.get("verdict"), o.get("paragraph"))
                         for p, o in zip(personas, outs)])

    await asyncio.gather(*(review(t) for t in tools))
    n = con.execute("SELECT count(*) FROM takes").fetchone()[0]
    con.close()
    await client.close()
    return n


if __name__ == "__main__":
    n = asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])))
    print(f"{n} takes")
