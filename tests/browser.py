"""Browser test helpers: `toolpanel serve` as a subprocess, headless Debian Chromium via Playwright,
and screenshot checks. Reused by every test that drives the Prefect UI.

Playwright drives the system Chromium (`/usr/bin/chromium`, `make chromium` installs it); it never
downloads a browser of its own.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from PIL import Image

TOOLPANEL = str(Path(sys.executable).parent / "toolpanel")
CHROMIUM = os.environ.get("TOOLPANEL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps",
                 "--disable-extensions", "--mute-audio"]
# What the Prefect UI shows when it cannot reach its API (the bug this harness was built to catch).
ERROR_BANNERS = ("Can't connect", "Unable to connect", "Can’t connect")


# What Prefect's own client retries: the server answers 503 when its SQLite database is busy (SQLITE_BUSY
# under a loaded machine) and expects the caller to try again.
RETRYABLE = (429, 502, 503)


def prefect_api(url: str, body: dict | None = None, *, patience: float = 60) -> dict | list:
    """GET (or POST `body` as JSON) a Prefect API URL, retrying busy answers like Prefect's client does."""
    deadline = time.monotonic() + patience
    delay = 0.5
    while True:
        req = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(),
                                     headers={"content-type": "application/json"},
                                     method="GET" if body is None else "POST")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as exc:
            if exc.code not in RETRYABLE or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 5)


@contextmanager
def toolpanel_serve(cwd: Path, env: dict, *, timeout: float = 150):
    """Run `toolpanel serve` until its deployments are served; yields (ui_url, log_path, process)."""
    log = cwd / "serve.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([TOOLPANEL, "serve"], env=env, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout
        while b"being served" not in log.read_bytes():
            assert proc.poll() is None, f"toolpanel serve exited {proc.returncode}:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"toolpanel serve did not start in {timeout:.0f}s:\n{log.read_text()}"
            time.sleep(0.3)
        ui = re.search(r"Prefect UI: (http://\S+)", log.read_text()).group(1)
        yield ui, log, proc
    finally:
        stop(proc)


def stop(proc: subprocess.Popen, timeout: float = 40) -> None:
    """Ctrl-C, as an editor would; kill only if it does not stop."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def chromium_missing() -> str | None:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        return f"{CHROMIUM} not found — install Debian's chromium: make chromium"
    return None


@contextmanager
def browser_page(width: int = 1280, height: int = 860):
    """A fresh headless Chromium page (system Chromium; no downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": width, "height": height}).new_page()
            page.set_default_timeout(90_000)  # a loaded 2-core CI machine renders the Prefect UI slowly
            yield page
        finally:
            browser.close()


def check_screenshot(path: Path, *, min_width: int = 800, min_height: int = 400, min_colours: int = 16) -> None:
    """A screenshot that shows something: big enough, and not a blank or single-colour page."""
    with Image.open(path) as img:
        w, h = img.size
        assert w >= min_width and h >= min_height, f"{path}: {w}x{h} is too small"
        colours = img.convert("RGB").getcolors(maxcolors=1 << 20) or []
        assert len(colours) >= min_colours, f"{path}: only {len(colours)} colours — a blank page?"
        commonest = max(c for c, _ in colours)
        assert commonest < 0.97 * w * h, f"{path}: {commonest / (w * h):.0%} of the pixels are one colour"


def shot(page, directory: Path, name: str, *, expect: list[str] = (), full_page: bool = False) -> Path:
    """Screenshot the page after checking its text: the expected texts present, no connection error banner."""
    try:
        for text in expect:
            page.get_by_text(text, exact=False).first.wait_for(state="visible")
    except Exception:
        page.screenshot(path=str(directory / f"{name}-FAILED.png"))  # what the page showed instead
        raise
    body = page.inner_text("body")
    for banner in ERROR_BANNERS:
        assert banner not in body, f"{name}: the UI says {banner!r}:\n{body[:2000]}"
    path = directory / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    check_screenshot(path)
    return path


DOCS_IMG = Path(__file__).resolve().parent.parent / "docs" / "img"


def keep_for_docs(shot_png: Path, name: str) -> None:
    """Refresh a docs/img/ screenshot only when asked (TOOLPANEL_DOCS_SCREENSHOTS=1): tests never dirty the tree."""
    if os.environ.get("TOOLPANEL_DOCS_SCREENSHOTS") == "1":
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot_png, DOCS_IMG / f"{name}.png")
