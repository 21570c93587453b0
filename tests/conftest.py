"""Shared fixtures: network guard, fake OpenAI server, isolated toolpanel home."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path

import os

import pytest

from tests.fake_openai import FakeOpenAI

# --------------------------------------------------------------------------- network guard

_ORIG_CONNECT = socket.socket.connect
_ORIG_CONNECT_EX = socket.socket.connect_ex
_ORIG_CREATE_CONNECTION = socket.create_connection
_ORIG_GETADDRINFO = socket.getaddrinfo
_ORIG_GETHOSTBYNAME = socket.gethostbyname


def _is_local_host(host: object) -> bool:
    if host is None:
        return True
    if isinstance(host, (bytes, bytearray)):
        host = bytes(host).decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    h = host.strip().strip("[]").split("%", 1)[0].lower()  # drop IPv6 zone id
    if h == "localhost" or h.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(h)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _is_local_address(address: object) -> bool:
    if isinstance(address, (str, bytes, bytearray)):  # AF_UNIX path (or abstract name)
        return True
    if isinstance(address, tuple) and address:
        return _is_local_host(address[0])
    return False


def _refuse(what: object) -> RuntimeError:
    return RuntimeError(f"toolpanel tests must not touch the network: tried to connect to {what!r}")


def _guarded_connect(self, address):
    if not _is_local_address(address):
        raise _refuse(address)
    return _ORIG_CONNECT(self, address)


def _guarded_connect_ex(self, address):
    if not _is_local_address(address):
        raise _refuse(address)
    return _ORIG_CONNECT_EX(self, address)


def _guarded_create_connection(address, *args, **kwargs):
    if not _is_local_address(address):
        raise _refuse(address)
    return _ORIG_CREATE_CONNECTION(address, *args, **kwargs)


def _guarded_getaddrinfo(host, *args, **kwargs):
    if host not in ("", b"") and not _is_local_host(host):
        raise _refuse(host)
    return _ORIG_GETADDRINFO(host, *args, **kwargs)


def _guarded_gethostbyname(host):
    if not _is_local_host(host):
        raise _refuse(host)
    return _ORIG_GETHOSTBYNAME(host)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "allow_network: disable the autouse no-network guard for this test"
    )
    config.addinivalue_line(
        "markers", "real_personas: review with personas/ (the real panel), not the fixture panel"
    )
    config.addinivalue_line(
        "markers",
        "fake_openai(**kwargs): FakeOpenAI constructor options for the `fake_openai` fixture "
        "(json_schema, json_object, latency, model_id)",
    )


@pytest.fixture(autouse=True)
def _no_network(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection to a non-loopback address raises RuntimeError immediately."""
    if request.node.get_closest_marker("allow_network"):
        return
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
    monkeypatch.setattr(socket, "create_connection", _guarded_create_connection)
    monkeypatch.setattr(socket, "getaddrinfo", _guarded_getaddrinfo)
    monkeypatch.setattr(socket, "gethostbyname", _guarded_gethostbyname)


# --------------------------------------------------------------------------- fake OpenAI server


def _fake_kwargs(request: pytest.FixtureRequest) -> dict:
    kwargs: dict = {}
    marker = request.node.get_closest_marker("fake_openai")
    if marker is not None:
        kwargs.update(marker.kwargs)
    param = getattr(request, "param", None)  # indirect parametrisation
    if isinstance(param, dict):
        kwargs.update(param)
    return kwargs


@pytest.fixture
def fake_openai(request: pytest.FixtureRequest) -> Iterator[FakeOpenAI]:
    """A fresh FakeOpenAI per test.

    Options via ``@pytest.mark.fake_openai(json_schema="400")`` or
    ``@pytest.mark.parametrize("fake_openai", [{"json_object": "400"}], indirect=True)``,
    or just set the attributes (``fake_openai.json_schema = "500"``) inside the test.
    """
    fake = FakeOpenAI(**_fake_kwargs(request)).start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def make_fake_openai() -> Iterator:
    """Factory for extra/custom servers: ``make_fake_openai(json_schema="400")``; all stopped at teardown."""
    started: list[FakeOpenAI] = []

    def make(**kwargs) -> FakeOpenAI:
        fake = FakeOpenAI(**kwargs).start()
        started.append(fake)
        return fake

    yield make
    for fake in started:
        fake.stop()


@pytest.fixture(scope="session")
def fake_openai_server() -> Iterator[FakeOpenAI]:
    """One FakeOpenAI for the whole session; use via `fake_openai_shared`."""
    fake = FakeOpenAI().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def fake_openai_shared(fake_openai_server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    """The session server, reset to defaults before (and after) each test."""

    def restore() -> None:
        fake_openai_server.reset()
        fake_openai_server.json_schema = "ok"
        fake_openai_server.json_object = "ok"
        fake_openai_server.json_object_schema = "ok"
        fake_openai_server.latency = 0.0
        fake_openai_server.model_id = "fake-model-1"

    restore()
    yield fake_openai_server
    restore()


# --------------------------------------------------------------------------- the fixture panel


def _default_personas_dir(directory: Path) -> Path:
    """Make `directory` the personas_dir of every Settings that names none (toolpanel.toml's personas_dir still
    wins); returns the previous default."""
    from toolpanel.config import Settings

    field = Settings.model_fields["personas_dir"]
    before, field.default = field.default, directory
    Settings.model_rebuild(force=True)
    return before


@pytest.fixture(scope="session", autouse=True)
def _fixture_panel_default() -> Iterator[None]:
    from tests.helpers import FIXTURE_PERSONAS

    before = _default_personas_dir(FIXTURE_PERSONAS)
    try:
        yield
    finally:
        _default_personas_dir(before)


@pytest.fixture(autouse=True)
def fixture_panel(request: pytest.FixtureRequest, _fixture_panel_default: None) -> Iterator[Path]:
    """Tests review with the fixture panel (tests/fixtures/personas, tests.helpers.PERSONA_IDS), not with
    personas/: adding a persona there changes no test's panel, counts or scripted texts.

    In this process it is the default personas_dir (a toolpanel.toml naming another still wins). A `toolpanel`
    subprocess (CLI, `toolpanel serve`) knows it only from toolpanel.toml: a test whose expectations depend on the
    panel writes its config with tests.helpers.project_toml (or seed_project). A test about the real panel is
    marked `@pytest.mark.real_personas` and reads its ids with tests.helpers.real_persona_ids()."""
    from tests.helpers import FIXTURE_PERSONAS, PERSONAS

    if not request.node.get_closest_marker("real_personas"):
        yield FIXTURE_PERSONAS
        return
    _default_personas_dir(PERSONAS)
    try:
        yield PERSONAS
    finally:
        _default_personas_dir(FIXTURE_PERSONAS)


# --------------------------------------------------------------------------- environment


@pytest.fixture
def tp_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Isolated TOOLPANEL_HOME (tmp_path/"home", not created), cwd = tmp_path, provider env cleared."""
    home = tmp_path / "home"
    monkeypatch.setenv("TOOLPANEL_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "TOOLPANEL_MODEL", "PREFECT_API_URL"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture
def provider_env(fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> FakeOpenAI:
    """Point the openai client (via env) at the fake server."""
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.setenv("TOOLPANEL_MODEL", fake_openai.model_id)
    for var in ("OPENAI_ORG_ID", "OPENAI_PROJECT_ID"):
        monkeypatch.delenv(var, raising=False)
    return fake_openai



# --------------------------------------------------------------------------- in-process fake model


@pytest.fixture
def fake_model(tp_home: Path, monkeypatch: pytest.MonkeyPatch):
    """A `tests.fake_model.FakeModel` injected at the LLM seam of every panel `toolpanel.panel.batch` opens.

    The environment names a provider (so no local model starts) whose address nothing listens on: a call
    that bypassed the seam would fail, not pass. For tests of HTTP itself use `provider_env`."""
    from tests.fake_model import FakeModel
    from toolpanel.panel import batch as runner
    from toolpanel.panel.llm import LLM

    fake = FakeModel()
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.setenv("TOOLPANEL_MODEL", fake.model_id)
    monkeypatch.setattr(runner, "LLM", lambda settings, **kw: LLM(settings, client=fake, **kw))
    return fake


@pytest.fixture(scope="module")
def prefect_harness():
    """Share the session harness another module already started (~10 s each); else start one."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    url = PREFECT_API_URL.value() or ""
    if url.startswith("http://127.0.0.1:") and url != os.environ.get("PREFECT_API_URL"):
        yield
        return
    with prefect_test_harness(server_startup_timeout=120):
        yield
