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
        stop(proc, log=log)


def serve_env(root: Path, fake, home: Path) -> dict:
    """The environment `toolpanel serve` runs with in a UI test: its own ~, TOOLPANEL_HOME and the fake provider,
    and none of this machine's Prefect settings."""
    user_home = root / "user-home"  # what ~ is for the server and the flow runs
    user_home.mkdir(exist_ok=True)
    env = dict(os.environ, HOME=str(user_home), TOOLPANEL_HOME=str(home), OPENAI_BASE_URL=fake.base_url,
               OPENAI_API_KEY="k", TOOLPANEL_MODEL=fake.model_id, PREFECT_RUNNER_POLL_FREQUENCY="1")
    for var in ("PREFECT_API_URL", "PREFECT_HOME", "PREFECT_LOCAL_STORAGE_PATH", "PREFECT_UI_API_URL"):
        env.pop(var, None)
    return env


FINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")


def wait_run(api: str, run_id: str, types: tuple[str, ...] = FINAL, timeout: float = 120) -> dict:
    """The flow run's state once its type or name is one of `types`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = prefect_api(f"{api}/flow_runs/{run_id}")["state"]
        if state and (state["type"] in types or state["name"] in types):
            return state
        time.sleep(0.5)
    raise AssertionError(f"flow run {run_id} did not reach {types} in {timeout}s")


def deployment_runs(api: str, deployment_id: str) -> list[dict]:
    return prefect_api(f"{api}/flow_runs/filter", {"deployments": {"id": {"any_": [deployment_id]}}})


def submit_run(form: "Form", shots: Path, api: str, deployment_id: str) -> str:
    """Check every field, click Submit once; returns the id of the flow run it created."""
    known = {r["id"] for r in deployment_runs(api, deployment_id)}

    def new() -> list[str]:
        return [r["id"] for r in deployment_runs(api, deployment_id) if r["id"] not in known]

    form.submit()
    deadline = time.monotonic() + 90  # the UI validates the parameters with the server first; slow under load
    oops = form.scope.get_by_text("Oops. Something went wrong.")
    again, last = 0, time.monotonic()
    while not (created := new()):
        # Under a full suite's load the server can refuse a request (SQLite busy) and the UI says so in a
        # toast; an editor who sees it, and still no run after a while, presses Submit again. Only then,
        # at most twice (a run created meanwhile ends the loop, so nothing is submitted twice).
        if again < 2 and time.monotonic() - last > 10 and oops.count() and not new():
            again += 1
            form.scope.screenshot(path=str(shots / f"submit-oops-{again}.png"), full_page=True)
            form.submit()
            last = time.monotonic()
        if time.monotonic() > deadline:
            page = form.scope
            page.screenshot(path=str(shots / "submit-FAILED.png"), full_page=True)
            everything = [(r["deployment_id"], r["parameters"]) for r in prefect_api(f"{api}/flow_runs/filter", {})]
            raise AssertionError(f"submitting the form created no flow run of {deployment_id}: {everything}\n"
                                 f"the page says:\n{page.inner_text('body')[:3000]}")
        time.sleep(0.3)
    return created[0]


def stop(proc: subprocess.Popen, timeout: float = 40, log: Path | None = None) -> None:
    """Ctrl-C, as an editor would. `toolpanel serve` has exited within seconds of it, at most within
    flows.serving.STOP_DEADLINE (30 s) whatever blocks it: one that ignored it is killed and the test fails."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()  # its Prefect server dies with it (PR_SET_PDEATHSIG)
            proc.wait()
            raise AssertionError(f"{proc.args} did not stop on SIGINT within {timeout:.0f} s"
                                 + (f"; its log ends:\n{log.read_text(errors='replace')[-3000:]}" if log else ""))


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


# ----------------------------------------------------------------------------- typing at a person's pace
#
# An editor waits for a box to appear, types, sees what they typed, and only then presses Submit. A test that
# clicks "Add item" and types at once writes into whichever box already exists (the new list box appears
# ~0.3 s later), and the form then rightly refuses what was sent. So every field is a locator for the one
# element meant (scoped to its label), waited for before typing, read back after, and read back again, with
# every other field, before Submit is clicked. No sleeps: each wait ends when the page is ready.

FIELD_TIMEOUT_MS = 30_000  # a loaded 2-core machine renders a new box in well under a second; this is a ceiling


def field(scope, label: str):
    """The Prefect form field (a `div.p-label`) whose label reads exactly `label`, e.g. "Reason" (the UI's own
    " (Optional)" after a field with a default may follow)."""
    page = getattr(scope, "page", scope)
    title = re.compile(rf"^{re.escape(label)}( \(Optional\))?$")
    return scope.locator("div.p-label").filter(has=page.locator(".p-label__header .p-label__label").get_by_text(title))


def type_into(box, value: str, *, timeout: float = FIELD_TIMEOUT_MS):
    """Type `value` into the text box `box` (a Playwright Locator) as a person would: wait for that very box,
    fill it, and read it back. Returns the box."""
    from playwright.sync_api import expect

    box.wait_for(state="visible", timeout=timeout)
    expect(box).to_be_editable(timeout=timeout)
    box.fill(value)
    expect(box, f"the box did not keep what was typed: {value!r}").to_have_value(value, timeout=timeout)
    return box


class Form:
    """A form filled at a person's pace: `type` waits for each box, fills it and reads it back; `shows` records
    what a non-text field (a select) must display; `submit` reads every field back, then clicks Submit once."""

    def __init__(self, scope, *, timeout: float = FIELD_TIMEOUT_MS):
        self.scope, self.timeout = scope, timeout  # scope: the page, or a dialog holding the form
        self.fields: dict[str, tuple] = {}

    def field(self, label: str):
        return field(self.scope, label)

    def type(self, box, value: str):
        """Type into `box` (a Locator, or a label: the one text box of that field) and remember the value."""
        if isinstance(box, str):
            box = self.field(box).locator("textarea, input")
        self.fields[repr(box)] = (box, value, "value")
        return type_into(box, value, timeout=self.timeout)

    def shows(self, element, text: str) -> None:
        """Check now, and again before Submit, that `element` displays `text` (whitespace normalised)."""
        from playwright.sync_api import expect

        expect(element).to_have_text(text, use_inner_text=True, timeout=self.timeout)
        self.fields[repr(element)] = (element, text, "text")

    def check(self) -> None:
        """Every field still holds what was typed or chosen."""
        from playwright.sync_api import expect

        for element, want, kind in self.fields.values():
            if kind == "value":
                expect(element, f"before Submit: {want!r} is no longer in its box").to_have_value(
                    want, timeout=self.timeout)
            else:
                expect(element, f"before Submit: {want!r} is no longer shown").to_have_text(
                    want, use_inner_text=True, timeout=self.timeout)

    def submit(self, name: str = "Submit") -> None:
        """Read every field back, then click the form's Submit button once."""
        self.check()
        self.scope.get_by_role("button", name=name, exact=True).click(timeout=self.timeout)


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
