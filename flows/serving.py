"""`toolpanel serve` runs its deployments until Ctrl-C (SIGINT) or SIGTERM, then stops within a bound.

Stopping goes in order: Prefect's runner first — it pauses the schedules through the API of a server
that is still up (flows/serve.py starts that server in its own session, out of reach of the terminal's
Ctrl-C) — then the caller stops the server. The runner gets `STOP_GRACE` seconds; one that has not
stopped by then (an API that no longer answers) is abandoned, as at a second Ctrl-C. Should anything
still keep the process from exiting `STOP_DEADLINE` seconds after the first signal, the child servers
and flow-run processes are stopped and the process exits with `FORCED_EXIT`.

SIGINT is handled here whatever its inherited disposition: a shell starts a command run in the background
of a script (`toolpanel serve &`, and so a test suite run that way) with SIGINT ignored, and Python keeps it
ignored, so Ctrl-C and `kill -INT` would otherwise do nothing.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable

from toolpanel.servers import running, stop_all

STOP_GRACE = 10.0  # seconds the runner gets to cancel the runs in progress and pause the schedules
STOP_DEADLINE = 30.0  # seconds after the first signal by which the process has exited, whatever blocks it
FORCED_EXIT = 130  # the shell's status for "ended by Ctrl-C": the shutdown did not finish


def _children() -> dict[int, str]:
    """This process's running child processes and their command lines (Linux: /proc; elsewhere those
    multiprocessing started)."""
    me, found = str(os.getpid()), {}
    try:
        entries = [e for e in os.listdir("/proc") if e.isdigit()]
    except OSError:
        return {p.pid: p.name for p in multiprocessing.active_children()}
    for entry in entries:
        try:
            state, ppid = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[:2]
            cmd = open(f"/proc/{entry}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError):
            continue
        if ppid == me and state != "Z":
            found[int(entry)] = cmd.strip()
    return found


def end_flow_runs(echo: Callable[[str], None] = print) -> None:
    """Kill the child processes (flow runs) still running once the runner has stopped; the child servers
    and multiprocessing's resource tracker stay."""
    servers = {proc.pid for proc in running()}
    for pid, cmd in _children().items():
        if pid not in servers and "resource_tracker" not in cmd:
            echo(f"killed PID {pid}, still running after the runner stopped: {cmd[:100]}")
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def _announce(deployments: list, echo: Callable[[str], None]) -> None:
    echo("Your deployments are being served and polling for scheduled runs:")
    for d in deployments:
        echo(f"  {d.flow_name}/{d.name}")
    echo("Ctrl-C stops them: runs in progress are cancelled, the schedules paused.")


class _Stopper:
    """The signal handlers and the bounded stop of one runner.

    Ctrl-C and SIGTERM both take Prefect's graceful stop (`Runner.astop`, its own SIGTERM path): runs in
    progress are killed and marked Cancelled, polling ends, and the runner's exit pauses the schedules.
    (Prefect's Ctrl-C path, cancelling the runner's task, left a run in progress "Running" for good when the
    terminal's Ctrl-C had reached its process too.) A runner still starting is waited for: its schedules are
    already active."""

    def __init__(self, runner, echo: Callable[[str], None], grace: float, deadline: float):
        self.runner, self.echo, self.grace, self.deadline = runner, echo, grace, deadline
        self.loop: asyncio.AbstractEventLoop | None = None
        self.main: asyncio.Task | None = None
        self.asked = 0
        self.requested = asyncio.Event()
        self.stopping: asyncio.Task | None = None  # held: the loop keeps only a weak reference to a task

    def on_signal(self, signum, frame) -> None:  # a Python signal handler: runs in the main thread
        if self.loop is None or self.loop.is_closed():
            raise KeyboardInterrupt  # not serving (yet): unwind, stopping what was started on the way
        self.loop.call_soon_threadsafe(self.stop, signal.Signals(signum))

    def stop(self, sig: signal.Signals) -> None:
        self.asked += 1
        if self.asked == 1:
            self.echo(f"{sig.name}: stopping the deployments (again: stop at once)")
            threading.Thread(target=self._last_resort, name="toolpanel-stop-deadline", daemon=True).start()
            self.requested.set()
            self.stopping = self.loop.create_task(self._graceful())
        elif not self.main.done():
            self.echo(f"{sig.name}: stopping at once")
            self.main.cancel()

    async def _graceful(self) -> None:
        while not self.runner.started and not self.main.done():
            await asyncio.sleep(0.05)
        if self.runner.started and not self.runner.stopping:
            await self.runner.astop()

    def _last_resort(self) -> None:
        time.sleep(self.deadline)
        sys.stderr.write(f"error: toolpanel serve did not stop within {self.deadline:.0f} s of the signal; "
                         "ending it now with its Prefect server and flow runs\n")
        sys.stderr.flush()
        stop_all()
        end_flow_runs(lambda line: sys.stderr.write(line + "\n"))
        sys.stderr.flush()
        os._exit(FORCED_EXIT)

    async def run(self) -> bool:
        """Serve until stopped; True if the runner stopped completely (schedules paused)."""
        self.loop = asyncio.get_running_loop()
        self.main = asyncio.ensure_future(self.runner.start())
        asked = asyncio.ensure_future(self.requested.wait())
        await asyncio.wait({self.main, asked}, return_when=asyncio.FIRST_COMPLETED)
        asked.cancel()
        if not self.main.done():
            await asyncio.wait({self.main}, timeout=self.grace)
        if not self.main.done():
            self.echo(f"Prefect's runner did not stop within {self.grace:g} s (a run that does not end, or an "
                      "API that does not answer): not waiting for it")
            self.main.cancel()
            await asyncio.wait({self.main}, timeout=5)
            return False
        if self.main.cancelled():  # a second signal
            return False
        if self.asked and self.main.exception() is not None:  # e.g. the API went away while pausing
            self.echo(f"Prefect's runner stopped with an error: {self.main.exception()!r}")
            return False
        self.main.result()  # the runner's own failure (not stopping): raised
        return True


def run_deployments(deployments: list, *, echo: Callable[[str], None] = print, grace: float = STOP_GRACE,
                    deadline: float = STOP_DEADLINE) -> bool:
    """Register and serve `deployments` (schedules paused on shutdown) until a signal stops them; True if the
    runner stopped completely. Main thread only (signal handlers)."""
    from prefect.runner import Runner

    runner = Runner(pause_on_shutdown=True)
    for deployment in deployments:
        runner.add_deployment(deployment)
    stopper = _Stopper(runner, echo, grace, deadline)
    runner.handle_sigterm = stopper.on_signal  # Runner.start installs this for SIGTERM: the same bounded stop
    # Our SIGINT handler also keeps asyncio.run from installing its own (which cancels the runner mid-step).
    previous = {sig: signal.signal(sig, stopper.on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        _announce(deployments, echo)
        return asyncio.run(stopper.run())
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        end_flow_runs(echo)
