"""What every benchmark script shares: the results list and `record`, a temporary TOOLPANEL_HOME, the fake
provider's settings, generated cards, a measured subprocess, and the machine-speed loop."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from tests.fake_openai import FakeOpenAI

RESULTS: list[dict] = []


CURRENT = {"fig": ""}  # the figure being measured: results of a re-measured figure replace its old ones


def record(name: str, value: float, unit: str, goal: str, met: bool | None, note: str = "") -> None:
    RESULTS.append({"name": name, "fig": CURRENT["fig"], "value": round(value, 4), "unit": unit, "goal": goal,
                    "met": met, **({"note": note} if note else {})})
    flag = {True: "met", False: "MISSED", None: "—"}[met]
    print(f"  {name:<58} {value:>12.4g} {unit:<10} goal {goal:<10} {flag}{'  (' + note + ')' if note else ''}",
          flush=True)


@contextmanager
def home(env_extra: dict | None = None):
    """A temporary TOOLPANEL_HOME and cwd, restored afterwards."""
    old_env, old_cwd = dict(os.environ), os.getcwd()
    tmp = Path(tempfile.mkdtemp(prefix="tpbench-"))
    os.environ["TOOLPANEL_HOME"] = str(tmp / "home")
    for k in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "TOOLPANEL_MODEL"):
        os.environ.pop(k, None)
    os.environ.update(env_extra or {})
    os.chdir(tmp)
    try:
        yield tmp
    finally:
        os.chdir(old_cwd)
        os.environ.clear()
        os.environ.update(old_env)
        shutil.rmtree(tmp, ignore_errors=True)


def provider(fake: FakeOpenAI) -> dict:
    return {"OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": "bench", "TOOLPANEL_MODEL": fake.model_id}


def make_cards(directory: Path, n: int, categories: int = 20) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        p = directory / f"tool-{i:05d}.md"
        p.write_text(f"---\nname: Bench Tool {i}\nslug: tool-{i:05d}\ncategory: Category {i % categories}\n"
                     f"tagline: Does thing number {i} for developers\npricing: Free tier, then $10/month\n"
                     f"entry: Freemium\nurl: https://tool{i}.example.com\n---\n"
                     f"Bench Tool {i} is a developer tool that does one useful thing well. It ships an SDK, a CLI "
                     f"and a hosted dashboard, integrates with GitHub and Slack, and targets small teams that want "
                     f"results in an afternoon rather than a quarter. Version {i} adds audit logs and SSO.\n")
        paths.append(p)
    return paths


_RSS_WRAPPER = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[2:]); "
                "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)); "
                "sys.exit(r.returncode)")


def run_measured(cmd: list[str], env: dict | None = None, cwd: Path | None = None,
                 ok: tuple[int, ...] = (0,)) -> tuple[float, float, str]:
    """Run a whole process; (wall seconds, its peak RSS in MiB, stdout). A one-line wrapper reads the peak."""
    with tempfile.NamedTemporaryFile(suffix=".rss") as rss:
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-c", _RSS_WRAPPER, rss.name, *cmd], capture_output=True, text=True,
                           env={**os.environ, **(env or {})}, cwd=cwd)
        wall = time.perf_counter() - t0
        peak = int(Path(rss.name).read_text() or 0) / 1024
    if r.returncode not in ok:
        raise RuntimeError(f"{cmd[:3]} exited {r.returncode}: {r.stderr[-2000:]}")
    return wall, peak, r.stdout


def _warm_mode(settings) -> None:
    """Discover the endpoint's output mode once, as any second daily run would find it."""
    from toolpanel.panel.llm import LLM

    asyncio.run(_warm(LLM(settings, mode_cache=settings.home / "endpoints.json")))


def machine_speed() -> float:
    """Seconds for a fixed CPU-bound loop: printed beside the figures so runs on different machines compare."""
    t0 = time.perf_counter()
    x = 0
    for i in range(3_000_000):
        x += i * i % 7
    return time.perf_counter() - t0


async def _warm(llm) -> None:
    from toolpanel.panel.prompts import repair_message  # noqa: F401

    await llm.take([{"role": "user", "content": "Persona id: builder\nTool slug: warm"}], llm.settings.model,
                   lambda e: {"role": "user", "content": "REPAIR: " + e})
    await llm.aclose()
