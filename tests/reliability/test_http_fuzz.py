"""Fuzzing the HTTP layer of one live server with Hypothesis, over raw sockets.

Each example is one TCP connection carrying what a broken client or an attacker
sends: bodies without a length, chunked garbage, pipelined requests, early closes
(half-sent requests, resets), bad request lines and headers, huge headers, websocket
upgrades with bad handshakes or garbage after a good one. After every connection the
process is alive; whatever the server answered is an HTTP status below 500 (or no
answer: it may just close). At the end ``/healthz`` answers 200 and a till says
hello, signs in and scans.

``LANESERVER_HTTP_FUZZ_EXAMPLES`` sets the number of connections (default 200, a few
seconds); docs/reliability.md has a long run's counts.
"""

from __future__ import annotations

import json
import os
import re
import socket
import struct
import urllib.request
from collections import Counter

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import LiveServer, connect

MAX_EXAMPLES = int(os.environ.get("LANESERVER_HTTP_FUZZ_EXAMPLES", "200"))
GALETS = "3760245001015"
PATHS = ("/", "/till/", "/till/till.js", "/pda/", "/healthz", "/metrics", "/protocol/schema.json", "/ws",
         "/till/../../etc/passwd", "/%00", "/" + "a" * 3000, "*", "http://evil.example/healthz")
METHODS = ("GET", "POST", "PUT", "HEAD", "OPTIONS", "DELETE", "PATCH", "CONNECT", "TRACE", "BREW", "G\x00T", "")
WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="

FUZZ = settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.large_base_example])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(tmp_path_factory.mktemp("http_fuzz") / "data").start()
    try:
        yield live
    finally:
        live.stop()


# --- what is sent -----------------------------------------------------------------------------

def _text(min_size: int = 0, max_size: int = 40) -> st.SearchStrategy[bytes]:
    return st.one_of(st.binary(min_size=min_size, max_size=max_size),
                     st.text(min_size=min_size, max_size=max_size).map(lambda t: t.encode("utf-8", "surrogatepass")))


@st.composite
def request_head(draw, *, method=None, path=None, headers=()) -> bytes:
    method = method or draw(st.sampled_from(METHODS))
    path = path or draw(st.sampled_from(PATHS))
    version = draw(st.sampled_from(["HTTP/1.1", "HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/1.1 x", ""]))
    lines = [f"{method} {path} {version}".encode("utf-8", "surrogatepass")]
    if draw(st.booleans()):
        lines.append(b"Host: 127.0.0.1")
    lines += [h if isinstance(h, bytes) else h.encode() for h in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


@st.composite
def body_without_length(draw) -> list[bytes]:
    head = draw(request_head(method=draw(st.sampled_from(["POST", "PUT", "GET"])),
                             headers=draw(st.sampled_from([(), ("Connection: close",), ("Connection: keep-alive",)]))))
    return [head, draw(st.binary(min_size=1, max_size=draw(st.sampled_from([100, 5000, 100_000]))))]


@st.composite
def chunked_garbage(draw) -> list[bytes]:
    head = draw(request_head(method="POST", headers=["Transfer-Encoding: chunked"]))
    chunks = draw(st.lists(st.one_of(
        st.integers(0, 1 << 40).map(lambda n: f"{n:x}\r\n".encode()),
        st.just(b"zz\r\n"), st.just(b"-1\r\n"), st.just(b"5;ext=\x01\r\nhello\r\n"),
        _text(max_size=30)), max_size=6))
    return [head, b"".join(chunks)]


@st.composite
def pipelined(draw) -> list[bytes]:
    requests = draw(st.lists(st.one_of(
        st.just(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
        st.just(b"GET /till/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
        st.just(b"POST /till/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\n\r\nabc"),
        request_head()), min_size=2, max_size=8))
    return [b"".join(requests)]


@st.composite
def early_close(draw) -> list[bytes]:
    whole = draw(st.sampled_from([
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        b"POST /till/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n" + b"x" * 500,
        f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {WS_KEY}\r\n\r\n".encode(),
    ]))
    return [whole[:draw(st.integers(0, len(whole)))]]


@st.composite
def bad_lines_and_headers(draw) -> list[bytes]:
    header = draw(st.one_of(
        st.just(b"Content-Length: 5\r\nContent-Length: 7"),
        st.just(b"Content-Length: -1"), st.just(b"Content-Length: 99999999999999999999"),
        st.just(b"Transfer-Encoding: chunked\r\nContent-Length: 4"),
        st.just(b"Bad Header: x"), st.just(b": empty name"), st.just(b"X-Control: a\x00b\x7f"),
        st.just(b" folded: continuation"),
        st.integers(1000, 70_000).map(lambda n: b"X-Huge: " + b"a" * n),
        st.integers(50, 400).map(lambda n: b"\r\n".join(b"X-Many-%d: y" % i for i in range(n))),
        st.tuples(_text(1, 20), _text(0, 60)).map(lambda kv: kv[0] + b": " + kv[1]),
    ))
    raw_line = draw(st.one_of(_text(0, 200), st.just(b"GET"), st.just(b"GET / HTTP/1.1 extra"),
                              st.just(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")))  # a TLS hello
    head = draw(st.sampled_from([b"GET /healthz HTTP/1.1", b"POST /till/ HTTP/1.1", raw_line]))
    return [head + b"\r\nHost: 127.0.0.1\r\n" + header + b"\r\n\r\n"]


def _frame(opcode: int, payload: bytes, *, masked: bool, fin: bool = True, claimed: int | None = None) -> bytes:
    length = len(payload) if claimed is None else claimed
    first = (0x80 if fin else 0) | opcode
    mask_bit = 0x80 if masked else 0
    if length < 126:
        head = struct.pack("!BB", first, mask_bit | length)
    elif length < 1 << 16:
        head = struct.pack("!BBH", first, mask_bit | 126, length)
    else:
        head = struct.pack("!BBQ", first, mask_bit | 127, length)
    if not masked:
        return head + payload
    key = b"\x01\x02\x03\x04"
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


@st.composite
def websocket_garbage(draw) -> list[bytes]:
    good = draw(st.booleans())
    headers = ["Upgrade: websocket", "Connection: Upgrade",
               "Sec-WebSocket-Version: " + ("13" if good else draw(st.sampled_from(["12", "x", ""]))),
               "Sec-WebSocket-Key: " + (WS_KEY if good else draw(st.sampled_from(["", "short", "*" * 300])))]
    if draw(st.booleans()):
        headers.append("Sec-WebSocket-Extensions: " + draw(st.sampled_from(
            ["permessage-deflate", "permessage-deflate; client_max_window_bits=1", "x-unknown; a=b", ";;;"])))
    if draw(st.booleans()):
        headers.append("Origin: " + draw(st.sampled_from(["http://evil.example", "null", "http://127.0.0.1"])))
    head = draw(request_head(method="GET", path="/ws", headers=headers))
    frames = draw(st.lists(st.one_of(
        st.builds(_frame, st.sampled_from([0, 1, 2, 3, 8, 9, 10, 15]), st.binary(max_size=200),
                  masked=st.booleans(), fin=st.booleans()),
        st.builds(_frame, st.just(1), st.binary(max_size=10), masked=st.just(True),
                  claimed=st.sampled_from([126, 70_000, 1 << 40, (1 << 63) - 1])),
        st.just(_frame(1, b'{"type":"hello","id":1,"token":"nope"}', masked=True)),
        st.just(_frame(8, b"\x03\xe8", masked=True)),
        st.binary(min_size=1, max_size=60)), max_size=5))
    return [head, b"".join(frames)]


CASES = {
    "body_without_length": body_without_length(),
    "chunked_garbage": chunked_garbage(),
    "pipelined": pipelined(),
    "early_close": early_close(),
    "bad_line_or_header": bad_lines_and_headers(),
    "websocket_garbage": websocket_garbage(),
}
ENDINGS = ("half_close", "close", "reset")


# --- one connection --------------------------------------------------------------------------

STATUS = re.compile(rb"HTTP/1\.[01] (\d{3})")


def _converse(port: int, chunks: list[bytes], ending: str) -> list[int]:
    """Send ``chunks`` on a fresh connection, end it as told and return the statuses
    of the HTTP answers read (none when the connection is reset or closed early)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=3)
    answer = b""
    try:
        for chunk in chunks:
            sock.sendall(chunk)
        if ending == "reset":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return []
        if ending == "half_close":
            sock.shutdown(socket.SHUT_WR)
        else:
            sock.settimeout(0.15)
        while True:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    except OSError:
        pass  # reset by the server, or it kept the connection open past our read: both fine
    finally:
        sock.close()
    return [int(code) for code in STATUS.findall(answer)]


def _healthz(server: LiveServer) -> dict:
    with urllib.request.urlopen(server.url + "/healthz", timeout=10) as response:
        assert response.status == 200
        return json.loads(response.read())


def _gauges(server: LiveServer) -> dict[str, float]:
    with urllib.request.urlopen(server.url + "/metrics", timeout=10) as response:
        text = response.read().decode()
    return {name: float(value) for name, value in re.findall(r"^laneserver_(\w+) (\S+)$", text, re.M)}


def test_http_fuzz_leaves_the_server_serving(server):
    counts: Counter[str] = Counter()

    @FUZZ
    @given(case=st.sampled_from(sorted(CASES)).flatmap(lambda name: st.tuples(st.just(name), CASES[name])),
           ending=st.sampled_from(ENDINGS))
    def one_connection(case, ending):
        name, chunks = case
        statuses = _converse(server.port, chunks, ending)
        counts["connections"] += 1
        counts[f"case:{name}"] += 1
        counts["answers"] += len(statuses)
        counts["error answers"] += sum(1 for code in statuses if code >= 400)
        assert server.proc.poll() is None, "\n".join(server.output[-40:])
        assert all(code < 500 for code in statuses), (name, chunks[0][:200], statuses)

    one_connection()
    assert server.proc.poll() is None, "\n".join(server.output[-40:])
    assert _healthz(server)["status"] == "ok"
    # Every connection is gone, and with it every place among the websockets waiting
    # for hello (within the 10 s hello deadline at most).
    gauges = _gauges(server)
    for _ in range(120):
        if gauges["websockets_unauthenticated"] == 0 and gauges["connections_open"] <= 1:
            break
        trio.run(trio.sleep, 0.1)
        gauges = _gauges(server)
    assert gauges["websockets_unauthenticated"] == 0 and gauges["connections_open"] <= 1, gauges
    assert gauges["websockets_waiting"] == 0, gauges
    token = server.pair("till", "1")

    async def sell() -> None:
        with trio.fail_after(20):
            async with connect(server.ws_url, token) as till:
                reply = await till.ok("scan", code=GALETS)
                assert reply["ticket"]["lines"]

    trio.run(sell)
    failed = sum(1 for line in server.output if '"connection_failed"' in line)
    crashes = sum(1 for line in server.output if "Traceback" in line)
    print(f"\nhttp fuzz: {counts['connections']} connections, {counts['answers']} answers "
          f"({counts['error answers']} errors 4xx), {gauges['connections_failed']:.0f} connections failed "
          f"({failed} connection_failed lines logged), crashes: 0; "
          + ", ".join(f"{k[5:]} {v}" for k, v in sorted(counts.items()) if k.startswith("case:")))
    assert crashes == 0, "\n".join(server.output[-60:])
