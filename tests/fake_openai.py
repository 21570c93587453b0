"""A scriptable fake OpenAI-compatible HTTP server for toolpanel tests.

Stdlib only.  It is a *real* server on 127.0.0.1 (random port) speaking
HTTP/1.1 with keep-alive, so the real ``openai`` client (and its HTTP stack)
talks to it over real sockets; nothing is monkeypatched.

Usage::

    with FakeOpenAI() as fake:
        fake.script("malformed_then_valid", persona="skeptic", tool="acme")
        client = openai.OpenAI(base_url=fake.base_url, api_key="test-key")
        ...
        assert fake.calls(persona="skeptic") == 2

Endpoints:
    POST /v1/chat/completions   scripted chat completions
    GET  /v1/models             lists ``model_id``
    GET  /v1/models/{id}        the model object (404 for other ids)
    anything else               404 with an OpenAI-shaped error body

Persona / tool are detected from all message contents concatenated, with the
regexes ``Persona id: ([a-z0-9_-]+)`` and ``Tool slug: ([a-z0-9-]+)``.  A
request is a *repair* if its last message contains ``REPAIR:``.  Takes quote the
card: their ``evidence`` is the first words of the card's ``Description:``
(params ``evidence=[...]`` overrides it).
"""

from __future__ import annotations

import hashlib
import http.server
import itertools
import json
import math
import re
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FakeOpenAI", "BEHAVIOURS", "default_score", "default_paragraph"]

PERSONA_RE = re.compile(r"Persona id: ([a-z0-9_-]+)")
# The chair's call (prompts/chair.j2, issue 27): recorded and scripted as persona "chair".
CHAIR_RE = re.compile(r"You chair the toolpanel review panel")
CHAIR_TAKE_RE = re.compile(r"^Reviewer ([A-Z]): (ship|skip|abstained)", re.M)
# A comparison's answer (prompts/chair_pair.j2): recorded and scripted as persona "pair".
PAIR_RE = re.compile(r"Readers compare the two on one page")
PAIR_TAKE_RE = re.compile(r"^Reviewer ([A-Z]), on the (first|second) tool: (ship|skip|abstained)", re.M)
PAIR_PICK_RE = re.compile(r"the pick is: (first|second|neither|too close)\.")


def chair_persona(prompt: str) -> str | None:
    """'pair' for a comparison's answer, 'chair' for a panel summary, None for anything else."""
    return "pair" if PAIR_RE.search(prompt) else "chair" if CHAIR_RE.search(prompt) else None
TOOL_RE = re.compile(r"Tool slug: ([a-z0-9-]+)")
REPAIR_MARKER = "REPAIR:"
MALFORMED_CONTENT = "Sure! Here's my take: it's great"
DESCRIPTION_RE = re.compile(r"^Description:\n(.*?)\nEND-TOOL-DATA", re.S | re.M)
UNGROUNDED_QUOTE = "the fastest tool of its kind, trusted by every Fortune 500 company"

BEHAVIOURS = frozenset(
    {
        "valid",
        "abstain",
        "malformed",
        "malformed_then_valid",
        "score_150",
        "score_150_then_valid",
        "short_paragraph",
        "contradiction",  # ship at 20 on every request, repairs included
        "contradiction_then_valid",  # ship at 20, then a coherent take on the repair call
        "ungrounded",  # a valid take quoting something the card does not say
        "429_then_ok",
        "500",
        "timeout",
        "latency",
        "raw",  # extension: params["content"] returned verbatim (never fenced)
        "long_quote",  # a valid take quoting the card's whole Description, word for word, however long
        "cut_off",  # the take's JSON cut off after params.get("chars", 60) characters, finish_reason "length"
        # Round two ([panel] rounds = 2): valid in round one; in round two "herd" moves to the round-one majority
        # it is shown (its side, the mean score of that side), "ignore" repeats its own round-one take.
        "herd",
        "ignore",
    }
)

_JSON_SCHEMA_MODES = ("ok", "400", "500")
_JSON_OBJECT_MODES = ("ok", "400")
# json_object with a "schema" key (llama.cpp-style grammar): "ok" honours it, "ignored" answers as if the
# schema were absent and the model wrote the score as "85/100" (breaks the take's shape).
_JSON_OBJECT_SCHEMA_MODES = ("ok", "ignored")


# --------------------------------------------------------------------------- content helpers

ROUND_TWO_MARKER = "ROUND TWO."  # prompts/round_two.j2
OWN_RE = re.compile(r"^Your round-one take: (?:(ship|skip), score (\d+)|abstained)", re.M)
OTHER_RE = re.compile(r"^Reviewer ([A-Z]): (?:(ship|skip), score (\d+)|abstained)", re.M)


def round_two_position(prompt: str, kind: str) -> tuple[int, str] | None:
    """(score, verdict) of a scripted reviewer's round-two take: "ignore" repeats its round-one take, "herd"
    moves to the majority of the round-one positions it is shown (its own and the others'): that side, at the
    side's mean score (a tie keeps its own). None for a round-one request."""
    own = OWN_RE.search(prompt) if ROUND_TWO_MARKER in prompt else None
    if own is None or own.group(1) is None:
        return None
    mine = (int(own.group(2)), own.group(1))
    if kind == "ignore":
        return mine
    positions = [mine] + [(int(m.group(3)), m.group(2)) for m in OTHER_RE.finditer(prompt) if m.group(2)]
    ships = [s for s, v in positions if v == "ship"]
    skips = [s for s, v in positions if v == "skip"]
    if len(ships) == len(skips):
        return mine
    if len(ships) > len(skips):
        return max(60, round(sum(ships) / len(ships))), "ship"
    return min(59, round(sum(skips) / len(skips))), "skip"



def default_score(tool: str | None, persona: str | None) -> int:
    """Deterministic score in 40..95 derived from sha256(f"{tool}:{persona}")."""
    digest = hashlib.sha256(f"{tool}:{persona}".encode()).digest()
    return 40 + int.from_bytes(digest[:8], "big") % 56


def default_paragraph(tool: str | None, persona: str | None, score: int) -> str:
    """A two-sentence paragraph (120-300 chars) that names persona and tool."""
    p = persona or "panelist"
    t = tool or "this tool"
    if len(p) + len(t) > 120:  # keep within 300 chars whatever the slugs
        p, t = "panelist", "this tool"
    if score >= 60:
        text = (
            f"As the {p} on this panel, I found {t} solid where it matters and easy to try "
            f"on a real project. It earns a {score}: the rough edges are real but none would stop me."
        )
    else:
        text = (
            f"As the {p} on this panel, I found {t} thin where it matters and hard to trust "
            f"on a real project. It gets a {score}: too many gaps for me to recommend it yet."
        )
    return text


def _message_text(message: Any) -> str:
    if not isinstance(message, dict):
        return ""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        parts = []
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, str):
                parts.append(part)
        return "\n".join(parts)
    return ""


@dataclass
class _Script:
    behaviour: str
    persona: str | None
    tool: str | None
    remaining: int | None
    params: dict[str, Any]
    seq: int
    # per-(persona, tool) request counters, for the *_then_ok behaviours
    seen: dict[tuple[str | None, str | None], int] = field(default_factory=dict)

    def matches(self, persona: str | None, tool: str | None) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.persona is not None and self.persona != persona:
            return False
        if self.tool is not None and self.tool != tool:
            return False
        return True


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128  # a batch opens dozens of connections at once; the default backlog of 5 refuses some
    fake: FakeOpenAI

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], OSError):  # client hung up / timed out: not our bug
            return
        super().handle_error(request, client_address)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeOpenAI/1.0"
    timeout = 30  # idle keep-alive connections are dropped after this
    server: _HTTPServer

    # ---- connection tracking so stop() can cut idle keep-alive sockets
    def setup(self):
        super().setup()
        try:  # headers and body are separate writes: avoid Nagle/delayed-ACK stalls
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self.server.fake._track(self.connection, add=True)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.fake._track(self.connection, add=False)

    def log_message(self, format, *args):  # silence stderr access log
        pass

    # ---- verbs
    def do_GET(self):
        self.server.fake._handle(self, "GET")

    def do_POST(self):
        self.server.fake._handle(self, "POST")

    def do_PUT(self):
        self.server.fake._handle(self, "PUT")

    def do_DELETE(self):
        self.server.fake._handle(self, "DELETE")

    def do_PATCH(self):
        self.server.fake._handle(self, "PATCH")

    # ---- io helpers
    def read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size_line = self.rfile.readline()
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:  # client gave up (e.g. its timeout fired) - nothing to do
            self.close_connection = True


def _error(message: str, type_: str, code: str | None = None, param: str | None = None) -> dict:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


class FakeOpenAI:
    """Scriptable fake of the OpenAI chat completions API on loopback."""

    def __init__(
        self,
        *,
        json_schema: str = "ok",
        json_object: str = "ok",
        latency: float = 0.0,
        model_id: str = "fake-model-1",
        json_object_schema: str = "ok",
    ) -> None:
        if json_schema not in _JSON_SCHEMA_MODES:
            raise ValueError(f"json_schema must be one of {_JSON_SCHEMA_MODES}, got {json_schema!r}")
        if json_object not in _JSON_OBJECT_MODES:
            raise ValueError(f"json_object must be one of {_JSON_OBJECT_MODES}, got {json_object!r}")
        if json_object_schema not in _JSON_OBJECT_SCHEMA_MODES:
            raise ValueError(f"json_object_schema must be one of {_JSON_OBJECT_SCHEMA_MODES}, got {json_object_schema!r}")
        self.json_schema = json_schema
        self.json_object = json_object
        self.json_object_schema = json_object_schema
        self.latency = float(latency)
        self.model_id = model_id
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._scripts: list[_Script] = []
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._ids = itertools.count(1)
        self._wake = threading.Event()  # set => sleeping handlers return at once
        self._conns: set[socket.socket] = set()
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> FakeOpenAI:
        if self._server is not None:
            return self
        self._wake = threading.Event()
        server = _HTTPServer(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.01},  # short poll => prompt shutdown()
            name=f"FakeOpenAI:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._wake.set()  # wake sleeping handlers (timeout/latency)
        server.shutdown()
        with self._lock:
            conns = list(self._conns)
            self._conns.clear()
        for conn in conns:  # cut idle keep-alive connections
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("FakeOpenAI not started; call start() first")
        return f"http://127.0.0.1:{self.port}/v1"

    # ------------------------------------------------------------------ scripting
    def script(
        self,
        behaviour: str,
        *,
        persona: str | None = None,
        tool: str | None = None,
        times: int | None = None,
        **params: Any,
    ) -> None:
        """Register ``behaviour`` for matching requests (None = any).

        Later registrations win over earlier ones; ``times`` limits a script to
        the next N matching requests, after which it falls through to earlier
        scripts and finally to the default ("valid").
        """
        if behaviour not in BEHAVIOURS:
            raise ValueError(f"unknown behaviour {behaviour!r}; known: {sorted(BEHAVIOURS)}")
        if times is not None and times < 0:
            raise ValueError("times must be >= 0")
        if behaviour == "raw" and not isinstance(params.get("content"), str):
            raise ValueError("behaviour 'raw' needs content=<str>")
        with self._lock:
            self._scripts.append(
                _Script(behaviour, persona, tool, times, dict(params), next(self._seq))
            )

    def reset(self) -> None:
        """Clear scripts and recorded requests (server options are kept)."""
        with self._lock:
            self._scripts.clear()
            self.requests.clear()
            self.max_in_flight = 0
            old, self._wake = self._wake, threading.Event()
        old.set()  # release handlers still sleeping for a previous test

    def calls(self, persona: str | None = None, tool: str | None = None) -> int:
        """Number of chat completion requests received matching persona/tool (None = any)."""
        with self._lock:
            return sum(
                1
                for r in self.requests
                if r["path"] == "/v1/chat/completions"
                and (persona is None or r["persona"] == persona)
                and (tool is None or r["tool"] == tool)
            )

    def chat_requests(self, persona: str | None = None, tool: str | None = None) -> list[dict]:
        """The recorded chat completion requests matching persona/tool."""
        with self._lock:
            return [
                r
                for r in self.requests
                if r["path"] == "/v1/chat/completions"
                and (persona is None or r["persona"] == persona)
                and (tool is None or r["tool"] == tool)
            ]

    # ------------------------------------------------------------------ internals
    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    def _sleep(self, seconds: float, wake: threading.Event) -> None:
        if seconds and seconds > 0:
            wake.wait(seconds)

    def _record(self, **entry: Any) -> dict:
        with self._lock:
            self.requests.append(entry)
        return entry

    def _resolve(self, persona: str | None, tool: str | None) -> tuple[str, dict, int]:
        """Pick the active script; returns (behaviour, params, nth-request-for-this-pair)."""
        with self._lock:
            for s in reversed(self._scripts):
                if s.matches(persona, tool):
                    if s.remaining is not None:
                        s.remaining -= 1
                    key = (persona, tool)
                    s.seen[key] = s.seen.get(key, 0) + 1
                    return s.behaviour, s.params, s.seen[key]
        return "valid", {}, 1

    def _handle(self, h: _Handler, method: str) -> None:
        # Track concurrent requests so tests can assert concurrency caps without timing anything.
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            self._handle_inner(h, method)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _handle_inner(self, h: _Handler, method: str) -> None:
        wake = self._wake
        path = h.path.split("?", 1)[0]
        headers = {k.lower(): v for k, v in h.headers.items()}
        try:
            raw = h.read_body()
        except (OSError, ValueError):
            h.close_connection = True
            return
        body: Any = None
        bad_json = False
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                bad_json = True
                body = raw.decode("utf-8", "replace")

        base = {"method": method, "path": path, "headers": headers, "body": body}

        if method == "GET" and path in ("/v1/models", "/v1/models/"):
            self._record(**base, persona=None, tool=None, behaviour="models", repair=False, status=200)
            self._sleep(self.latency, wake)
            h.send_json(200, {"object": "list", "data": [self._model_obj()]})
            return
        if method == "GET" and path.startswith("/v1/models/"):
            found = path[len("/v1/models/") :] == self.model_id
            status = 200 if found else 404
            self._record(**base, persona=None, tool=None, behaviour="models", repair=False, status=status)
            self._sleep(self.latency, wake)
            if found:
                h.send_json(200, self._model_obj())
            else:
                h.send_json(404, _error(f"The model '{path[11:]}' does not exist", "invalid_request_error", "model_not_found"))
            return
        if not (method == "POST" and path == "/v1/chat/completions"):
            self._record(**base, persona=None, tool=None, behaviour="not_found", repair=False, status=404)
            h.send_json(404, _error(f"Unknown route: {method} {path}", "invalid_request_error", "unknown_url"))
            return

        # ---- chat completions
        messages = body.get("messages") if isinstance(body, dict) else None
        if bad_json or not isinstance(messages, list) or not messages:
            self._record(**base, persona=None, tool=None, behaviour="bad_request", repair=False, status=400)
            h.send_json(400, _error("Request body must be JSON with a non-empty 'messages' list", "invalid_request_error", None, "messages"))
            return

        texts = [_message_text(m) for m in messages]
        joined = "\n".join(texts)
        pm, tm = PERSONA_RE.search(joined), TOOL_RE.search(joined)
        persona = pm.group(1) if pm else chair_persona(joined)
        tool = tm.group(1) if tm else None
        repair = REPAIR_MARKER in texts[-1]
        prompt_chars = sum(len(t) for t in texts)
        ident = {"persona": persona, "tool": tool, "repair": repair}

        if body.get("stream"):
            self._record(**base, **ident, behaviour="stream_rejected", status=400)
            h.send_json(400, _error("stream=true is not supported by the fake server", "invalid_request_error", None, "stream"))
            return

        rf = body.get("response_format")
        rf_type = rf.get("type") if isinstance(rf, dict) else None
        reject: tuple[int, dict] | None = None
        if rf_type == "json_schema" and self.json_schema == "400":
            reject = (400, _error("response_format json_schema is not supported", "invalid_request_error", None, "response_format"))
        elif rf_type == "json_schema" and self.json_schema == "500":
            reject = (500, _error("The server had an error while processing your request.", "server_error", "server_error"))
        elif rf_type == "json_object" and self.json_object == "400":
            reject = (400, _error("response_format json_object is not supported", "invalid_request_error", None, "response_format"))
        if reject is not None:
            self._record(**base, **ident, behaviour="format_rejected", status=reject[0])
            self._sleep(self.latency, wake)
            h.send_json(*reject)
            return

        behaviour, params, nth = self._resolve(persona, tool)
        dm = DESCRIPTION_RE.search(joined)
        quote = " ".join(dm.group(1).replace("\u02c6", " ").split()[:8]) if dm else f"{tool or 'this tool'} does one thing"
        entry = self._record(**base, **ident, behaviour=behaviour, status=200)
        self._sleep(self.latency, wake)

        plain = rf_type in (None, "text")
        status, content, extra_headers, finish = 200, None, {}, "stop"
        if behaviour == "500":
            status = 500
        elif behaviour == "429_then_ok" and nth == 1:
            status = 429
            extra_headers = {"retry-after-ms": "10", "retry-after": "0"}
        elif behaviour == "raw":
            content = params["content"]
        elif behaviour == "malformed":
            content = MALFORMED_CONTENT
        elif behaviour == "malformed_then_valid" and not repair:
            content = MALFORMED_CONTENT
        else:
            if behaviour in ("timeout", "latency"):
                default = 5.0 if behaviour == "timeout" else 0.0
                self._sleep(float(params.get("seconds", default)), wake)
            moved = round_two_position(joined, behaviour) if behaviour in ("herd", "ignore") else None
            if moved:
                params = {**params, "score": moved[0], "verdict": moved[1]}
            if persona in ("chair", "pair") and behaviour in ("valid", "latency", "timeout"):
                content = json.dumps(params.get("summary") or self.chair_reply(persona, joined))
                behaviour = "chair"
            take = self._take(behaviour, params, persona, tool, repair, quote)
            if (self.json_object_schema == "ignored" and rf_type == "json_object" and "schema" in rf
                    and isinstance(take.get("score"), int)):
                take = {**take, "score": f"{take['score']}/100"}
            if behaviour == "long_quote" and dm:
                take = {**take, "evidence": [" ".join(dm.group(1).replace("\u02c6", " ").split())]}
            content = content if behaviour == "chair" else self._render(take, persona, tool, plain)
            if behaviour == "cut_off":  # the token limit stops the reply mid-string
                content, finish = json.dumps(take)[: int(params.get("chars", 60))], "length"

        if status != 200:
            entry["status"] = status
            if status == 429:
                err = _error("Rate limit reached for fake-model (scripted).", "rate_limit_error", "rate_limit_exceeded")
            else:
                err = _error("The server had an error while processing your request.", "server_error", "server_error")
            h.send_json(status, err, extra_headers)
            return

        completion_tokens = math.ceil(len(content) / 4)
        prompt_tokens = math.ceil(prompt_chars / 4)
        n = next(self._ids)
        h.send_json(
            200,
            {
                "id": f"chatcmpl-fake{n:06d}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": self.model_id,
                "system_fingerprint": "fp_fake",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content, "refusal": None},
                        "logprobs": None,
                        "finish_reason": finish,
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            },
            {"x-request-id": f"req_fake{n:06d}"},
        )

    @staticmethod
    def chair_reply(persona: str, prompt: str) -> dict:
        """An honest chair's reply to either of its prompts."""
        return FakeOpenAI.pair_answer(prompt) if persona == "pair" else FakeOpenAI.chair_summary(prompt)

    @staticmethod
    def pair_answer(prompt: str) -> dict:
        """An honest chair's answer to a comparison prompt: the pick it was told, citing reviewers of the picked
        tool (any reviewer for neither / too close); 'instead' cites a ship reviewer of the other tool, if any."""
        seen = PAIR_TAKE_RE.findall(prompt)
        pick = PAIR_PICK_RE.search(prompt).group(1)
        ours = [(k, s) for k, side, s in seen if side == pick] or [(k, s) for k, _, s in seen][:1]
        other = [(k, s) for k, side, s in seen if side != pick and side in ("first", "second") and s == "ship"]
        cite = lambda pairs: [{"reviewer": k, "stance": s} for k, s in pairs]  # noqa: E731
        return {"pick": pick,
                "answer": {"text": f"The panel picks {pick}: its reviewers rate it higher.", "reviewers": cite(ours),
                           "quotes": []},
                "instead": ({"text": "Choose the other if its strengths fit your task.", "reviewers": cite(other[:2]),
                             "quotes": []} if other and pick in ("first", "second") else None)}

    @staticmethod
    def chair_summary(prompt: str) -> dict:
        """An honest chair's reply to a chair prompt: points citing the letters it was shown, with their stances
        (unscripted chair requests get this; script `summary=` or "raw"/"500" with persona="chair" otherwise)."""
        seen = CHAIR_TAKE_RE.findall(prompt)
        cite = lambda stance: [{"reviewer": k, "stance": s} for k, s in seen if s == stance]  # noqa: E731
        ships, skips = cite("ship"), cite("skip")
        major = ships if len(ships) >= len(skips) else skips
        side = "ship" if major is ships else "skip"
        agreements = [{"text": f"Most reviewers who took a position say {side}.", "reviewers": major, "quotes": []}]
        disagreements = ([{"about": "Whether to ship with it", "sides": [
            {"text": "Worth shipping with.", "reviewers": ships, "quotes": []},
            {"text": "Not yet.", "reviewers": skips, "quotes": []}]}] if ships and skips else [])
        return {"agreements": agreements if major else [], "disagreements": disagreements,
                "blind_spots": ["No reviewer covered how the vendor handles data retention."],
                "answer": {"text": f"The panel leans {side}: try it on one real task first.",
                           "reviewers": major or cite("abstained")[:1], "quotes": []}}

    def _model_obj(self) -> dict:
        return {"id": self.model_id, "object": "model", "created": 1700000000, "owned_by": "fake-openai"}

    @staticmethod
    def _take(behaviour: str, params: dict, persona: str | None, tool: str | None, repair: bool,
              quote: str) -> dict:
        if behaviour == "abstain":
            slug = tool or "this tool"
            return {
                "abstain": True,
                "score": None,
                "verdict": None,
                "paragraph": params.get(
                    "paragraph", f"Outside my lens: {slug} is not something I can judge fairly."
                ),
            }
        if behaviour == "score_150" or (behaviour == "score_150_then_valid" and not repair):
            return {"abstain": False, "score": 150, "verdict": "ship", "evidence": [quote],
                    "paragraph": default_paragraph(tool, persona, 95)}
        if behaviour == "short_paragraph":
            score = default_score(tool, persona)
            return {"abstain": False, "score": score, "evidence": [quote],
                    "verdict": "ship" if score >= 60 else "skip", "paragraph": "ok"}
        if behaviour == "contradiction" or (behaviour == "contradiction_then_valid" and not repair):
            return {"abstain": False, "score": 20, "verdict": "ship", "evidence": [quote],
                    "paragraph": default_paragraph(tool, persona, 20)}
        # valid (also the valid half of *_then_valid / 429_then_ok / timeout / latency)
        score = int(params.get("score", default_score(tool, persona)))
        verdict = params.get("verdict", "ship" if score >= 60 else "skip")
        paragraph = params.get("paragraph", default_paragraph(tool, persona, score))
        evidence = params.get("evidence", [UNGROUNDED_QUOTE] if behaviour == "ungrounded" else [quote])
        return {"abstain": False, "score": score, "verdict": verdict, "evidence": evidence, "paragraph": paragraph}

    @staticmethod
    def _render(take: dict, persona: str | None, tool: str | None, plain: bool) -> str:
        text = json.dumps(take)
        if not plain:
            return text
        who = f" as the {persona}" if persona else ""
        what = f" on {tool}" if tool else ""
        return f"Here's my take{who}{what}:\n\n```json\n{json.dumps(take, indent=2)}\n```\n"
