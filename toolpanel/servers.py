"""Child servers toolpanel starts and stops itself (the bundled model, a local Prefect server)."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def die_with_parent() -> None:
    """Linux: the child gets SIGKILL if toolpanel dies, so a killed run never leaves a server spinning."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def wait_healthy(url: str, *, timeout: float, what: str, error: type[Exception],
                 proc: subprocess.Popen | None = None, log: Path | None = None) -> None:
    """Poll `url` until it answers 200; a dead child or the deadline raises `error` naming the log."""
    see = f" — see {log}" if log else ""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise error(f"{what} exited with code {proc.returncode}{see}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise error(f"{what} did not answer within {timeout:.0f}s{see}")
        time.sleep(0.2)


_RUNNING: set[subprocess.Popen] = set()  # the child servers this process has started and not yet stopped


def stop(proc: subprocess.Popen, timeout: float) -> None:
    """SIGTERM, then SIGKILL after `timeout` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def running() -> list[subprocess.Popen]:
    """The child servers started by this process and not yet stopped."""
    return list(_RUNNING)


def stop_all(timeout: float = 3.0) -> None:
    """Stop every child server still running (the last resort of a process about to exit at once)."""
    for proc in list(_RUNNING):
        stop(proc, timeout)
        _RUNNING.discard(proc)


@contextmanager
def child_server(cmd: list[str], *, health_url: str, log: Path, timeout: float, what: str,
                 error: type[Exception], env: dict | None = None, stop_timeout: float = 10.0,
                 own_session: bool = False):
    """Start `cmd` (output to `log`), wait until `health_url` answers, and always stop it afterwards.

    `own_session`: the child gets its own session, so a Ctrl-C in the terminal (SIGINT to the whole
    foreground process group) reaches only this process, which stops the child when it is done with it
    (a server its users still need during their own shutdown must not die first)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                preexec_fn=die_with_parent, start_new_session=own_session)
    _RUNNING.add(proc)
    try:
        wait_healthy(health_url, timeout=timeout, what=what, error=error, proc=proc, log=log)
        yield proc
    finally:
        stop(proc, stop_timeout)
        _RUNNING.discard(proc)
