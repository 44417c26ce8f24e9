"""The HTTP edge, attacked through the public port: malformed HTTP, sockets that never
say hello, foreign Host names, the pages' security headers.

Every test talks to a real server process on a loopback port with raw sockets or a
real websocket client, and ends by checking that the process still serves.
"""

from __future__ import annotations

import json
import re
import socket
import struct
import time
import urllib.error
import urllib.request

import trio
from trio_websocket import ConnectionClosed, open_websocket_url

from tests.e2e.configured import CASHIER, DEMO_CATALOG, PAUL, configured_shop, lane, stock_point, table, toml
from tests.support import connect

GALETS = "3760245001015"


def _get(url: str, headers: dict[str, str] | None = None, timeout: float = 10) -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read().decode()


def _raw(port: int, data: bytes, *, shut: bool = True, timeout: float = 3.0) -> bytes:
    """Send ``data`` on a fresh connection and read what comes back until the server
    closes (or ``timeout``)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
            if shut:
                sock.shutdown(socket.SHUT_WR)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except OSError:
            pass  # reset or timed out: the server's answer is whatever came first
        return b"".join(chunks) if "chunks" in locals() else b""


def _still_serving(server) -> None:
    assert server.proc.poll() is None, "\n".join(server.output[-40:])
    status, _, body = _get(server.url + "/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"


# --- one connection's protocol error stays in that connection ---------------------------

BODY_WITHOUT_LENGTH = [
    b"POST /till/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" + b"x" * 1000,
    b"POST /till/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + b"x" * 100_000,
    b"POST /till/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" + b"x" * 1000,
]


def test_a_body_without_length_does_not_end_the_server(live_server):
    """h11 "Got data when expecting EOF" made Hypercorn send a 400 while another task
    was sending (BusyResourceError), and that error ended the whole process."""
    # Until the race was hit at least once (its ``connection_failed`` line), the server still
    # serving after every round. It is a race: one round of these requests does not always
    # hit it (a full suite on a loaded machine saw four rounds miss), and the log line comes
    # through the server's stderr reader thread, a moment after the answers.
    deadline = time.monotonic() + 30
    while True:
        for request in BODY_WITHOUT_LENGTH:
            _raw(live_server.port, request)
        _still_serving(live_server)
        if any('"connection_failed"' in line for line in live_server.output):
            break
        assert time.monotonic() < deadline, "never hit in 30 s:\n" + "\n".join(live_server.output[-20:])
        time.sleep(0.05)


# --- websockets that never say hello --------------------------------------------------------

HELLO_TIMEOUT = 1.0
MAX_UNAUTHENTICATED = 3


def _guarded_shop(tmp_path, hello_timeout=HELLO_TIMEOUT, **server_keys):
    config = toml(table("server", hello_timeout=hello_timeout, max_unauthenticated=MAX_UNAUTHENTICATED,
                        **server_keys), stock_point(), lane("1"))
    return configured_shop(tmp_path, config, DEMO_CATALOG, sellers=(CASHIER,), tills=("1",))


async def _close_code(ws) -> int | None:
    """Wait until the server closes ``ws``; its close code."""
    try:
        while True:
            await ws.get_message()
    except ConnectionClosed as closed:
        return closed.reason.code


async def test_a_websocket_that_never_says_hello_is_closed_and_the_cap_holds(tmp_path):
    """Before: 300 of 300 silent websockets were still open after 90 s. Now each is
    closed 1008 after ``hello_timeout``. Past ``max_unauthenticated`` waiting at once a
    new one's handshake waits for a place (it was closed 1013 at once before issue 12:
    a reconnect storm was refused); one that gets no place within ``hello_timeout`` is
    closed 1013 (try again). So a flood holds at most ``max_unauthenticated`` places, a
    waiting socket at most ``hello_timeout``, while a signed-in till sells on and a till
    that connects once the silent ones are gone gets in."""
    waiters = 2 * MAX_UNAUTHENTICATED
    timeout = 2 * HELLO_TIMEOUT  # room to open the waiters before the first places are freed
    with _guarded_shop(tmp_path, hello_timeout=timeout) as server, trio.fail_after(40):
        async with connect(server.ws_url, server.tokens["1"], seller=PAUL) as till:
            codes: list[int | None] = []

            async def silent_waiter() -> None:
                async with open_websocket_url(server.ws_url, connect_timeout=10) as ws:
                    codes.append(await _close_code(ws))

            async with open_websocket_url(server.ws_url) as a, open_websocket_url(server.ws_url) as b, \
                    open_websocket_url(server.ws_url) as c:
                started = trio.current_time()
                async with trio.open_nursery() as nursery:
                    for _ in range(waiters):
                        nursery.start_soon(silent_waiter)
                    while (_gauge(server, "websockets_waiting") < waiters
                           and trio.current_time() - started < timeout / 2):
                        await trio.sleep(0.05)
                    assert _gauge(server, "websockets_waiting") == waiters
                    assert _gauge(server, "websockets_unauthenticated") == MAX_UNAUTHENTICATED
                    await till.ok("scan", code=GALETS)  # the signed-in till is not held up
                    first = [await _close_code(ws) for ws in (a, b, c)]
                    waited = trio.current_time() - started
                everyone = trio.current_time() - started
            assert first == [1008, 1008, 1008], first
            assert timeout * 0.8 <= waited <= timeout + 3, waited
            # The waiters: admitted as places came free, then closed 1008 like any
            # silent socket, or closed 1013 after waiting ``hello_timeout`` in vain (at
            # least those behind the first three freed places).
            assert sorted(set(codes)) <= [1008, 1013] and len(codes) == waiters, codes
            assert codes.count(1013) >= waiters - MAX_UNAUTHENTICATED, codes
            assert everyone <= 2 * timeout + 3, everyone
            assert _gauge(server, "websockets_waiting") == 0
            assert _gauge(server, "websockets_waited_out") == codes.count(1013)
            async with connect(server.ws_url, server.tokens["1"], seller=PAUL) as second:
                reply = await second.ok("scan", code=GALETS)
                assert len(reply["ticket"]["lines"]) >= 1
        _still_serving(server)


async def test_a_reconnect_storm_beyond_the_cap_waits_and_gets_in(tmp_path):
    """Issue 12: 1,200 devices reconnecting at once after a restart got 1013 past the
    64th waiting for hello. Now, with 3 places, 40 sockets opened at once all say hello
    and get in, none refused: each waits for a place, and a place comes free as soon
    as its device's token is known."""
    storm = 40
    with _guarded_shop(tmp_path, max_sessions_per_device=storm + 1) as server, trio.fail_after(30):
        replies: list[str] = []

        async def device() -> None:
            async with open_websocket_url(server.ws_url, connect_timeout=20) as ws:
                await ws.send_message(json.dumps({"type": "hello", "id": "h", "token": server.tokens["1"]}))
                reply = json.loads(await ws.get_message())
                while reply.get("re") != "h":  # the lane's ticket event, pushed once subscribed
                    reply = json.loads(await ws.get_message())
                replies.append(reply["type"])

        async with trio.open_nursery() as nursery:
            for _ in range(storm):
                nursery.start_soon(device)
        assert replies == ["ok"] * storm, replies
        assert _gauge(server, "websockets_waited_out") == 0
        _still_serving(server)


async def test_a_websocket_message_is_bounded_before_hello(tmp_path):
    """Before: a socket that never said hello could make the server buffer ~1.1 MB
    of a half-sent message. Now a message past max_frame_bytes (+1 KiB) closes it (1009)."""
    with _guarded_shop(tmp_path, max_frame_bytes=4096) as server, trio.fail_after(20):
        async with open_websocket_url(server.ws_url) as ws:
            await ws.send_message("x" * 200_000)
            assert await _close_code(ws) == 1009
        _still_serving(server)


def test_idle_sockets_cannot_use_up_the_open_files(tmp_path, monkeypatch):
    """Before: with 256 open files, 244 idle sockets stopped /healthz and every till.
    Now the server counts connections against its open-file limit (less a reserve) and
    closes the oldest that is not a signed-in till to make room: with 300 idle sockets
    open, /healthz answers and a signed-in till sells."""
    import resource
    import subprocess

    def at_most_256_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    popen = subprocess.Popen
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: popen(*a, preexec_fn=at_most_256_files, **k))
    with _guarded_shop(tmp_path) as server:
        monkeypatch.undo()

        async def attack() -> None:
            with trio.fail_after(60):
                async with connect(server.ws_url, server.tokens["1"], seller=PAUL) as till:
                    idle = []
                    try:
                        for _ in range(300):
                            idle.append(await trio.open_tcp_stream("127.0.0.1", server.port))
                        # at once: not after Hypercorn's 5 s keep-alive has closed idle ones
                        status, _, body = await trio.to_thread.run_sync(
                            lambda: _get(server.url + "/healthz", timeout=2))
                        assert status == 200, body
                        reply = await till.ok("scan", code=GALETS)
                        assert len(reply["ticket"]["lines"]) == 1
                    finally:
                        for stream in idle:
                            await stream.aclose()

        trio.run(attack)
        _still_serving(server)
        assert not any("EMFILE" in line or "Too many open files" in line for line in server.output)
        assert any('"connection_refused"' in line or "server_ready" in line for line in server.output)


# --- Host and Origin ------------------------------------------------------------------------

def test_a_foreign_host_name_is_refused(tmp_path):
    """DNS rebinding: a page of evil.example whose name now points at the shop's
    server sends Host: evil.example (and its own Origin). Before: accepted."""
    with _guarded_shop(tmp_path, allowed_hosts=["till.shop.lan"]) as server:
        port = server.port
        for path in ("/healthz", "/till/"):
            status, headers, body = _get(server.url + path, {"Host": f"evil.example:{port}"})
            assert status == 400 and "host not allowed: evil.example" in body, (status, body)
            assert headers["content-type"].startswith("text/plain")
        answer = _raw(port, (f"GET /ws HTTP/1.1\r\nHost: evil.example:{port}\r\nOrigin: http://evil.example:{port}\r\n"
                             "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").encode())
        assert answer.startswith(b"HTTP/1.1 400") and b"host not allowed" in answer, answer[:300]
        for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", "till.shop.lan",
                     f"{socket.gethostname()}:{port}"):
            status, _, body = _get(server.url + "/healthz", {"Host": host})
            assert status == 200, (host, body)
        _still_serving(server)


def test_a_foreign_origin_gets_403_with_a_reason(live_server):
    port = live_server.port
    answer = _raw(port, (f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://evil.example\r\n"
                         "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").encode())
    assert answer.startswith(b"HTTP/1.1 403") and b"origin not allowed: http://evil.example" in answer, answer[:300]


# --- security headers ------------------------------------------------------------------------

def test_pages_and_answers_carry_the_security_headers(live_server):
    """Before: no Content-Security-Policy, nosniff or Referrer-Policy on any page."""
    for path in ("/till/", "/till/till.js", "/till/till.css", "/pda/", "/pda/pda.js", "/healthz", "/metrics",
                 "/protocol/schema.json", "/till/missing.js"):
        status, headers, _ = _get(live_server.url + path)
        assert status in (200, 404), (path, status)
        csp = headers.get("content-security-policy", "")
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp, path
        assert headers.get("x-content-type-options") == "nosniff", path
        assert headers.get("referrer-policy") == "no-referrer", path


async def test_handshakes_that_fail_do_not_use_up_the_places_waiting_for_hello(tmp_path):
    """Found by the long HTTP fuzz run: a handshake sent together with a frame wsproto
    refuses (a length of 2**63 - 1) failed the connection while the app was accepting
    the websocket; its place among those waiting for hello was never given back, and
    after 64 of them every new till got 1013."""
    upgrade = ("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").encode()
    bad_frame = b"\x81\xff\x7f\xff\xff\xff\xff\xff\xff\xff\x01\x02\x03\x04"
    with _guarded_shop(tmp_path) as server, trio.fail_after(30):
        for _ in range(3 * MAX_UNAUTHENTICATED):
            _raw(server.port, upgrade + bad_frame)
        async with connect(server.ws_url, server.tokens["1"], seller=PAUL) as till:
            await till.ok("scan", code=GALETS)
        _still_serving(server)


def _gauge(server, name: str) -> float:
    _, _, text = _get(server.url + "/metrics")
    return float(re.search(rf"^laneserver_{name} (\S+)$", text, re.M).group(1))


def test_a_connection_whose_peer_is_gone_ends(live_server):
    """Found by the HTTP fuzz: pipelined requests, then a reset. Hypercorn waited for
    ever to send the responses, so each such connection held a file and its memory
    for good. Now a connection ends at most PEER_GONE_GRACE (5 s) after its peer left."""
    pipelined = (b"GET /till/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" * 3
                 + b"POST /till/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\n\r\nabc" * 2)
    for _ in range(20):
        sock = socket.create_connection(("127.0.0.1", live_server.port), timeout=3)
        sock.sendall(pipelined)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    deadline = time.monotonic() + 10
    while (still_open := _gauge(live_server, "connections_open")) > 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert still_open <= 1, still_open  # the /metrics request itself
    _still_serving(live_server)


# --- compressed websocket messages --------------------------------------------------------

def _vm(pid: int, field: str) -> int:
    """A memory figure of a process in KiB (``VmHWM``, ``VmRSS``: /proc/PID/status)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(field)


def _deflate_bomb(payload_bytes: int) -> bytes:
    """One masked text frame, RSV1 set (permessage-deflate), of ``payload_bytes`` of
    raw deflate that inflates about a thousand times (spaces)."""
    import zlib
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = b""
    while len(data) < payload_bytes:
        data += compressor.compress(b" " * 1_000_000)
    data += compressor.flush(zlib.Z_SYNC_FLUSH)
    mask = b"\x01\x02\x03\x04"
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
    length = b"\xfe" + struct.pack("!H", len(masked)) if len(masked) < 65536 else b"\xff" + struct.pack("!Q", len(masked))
    return b"\xc1" + length + mask + masked  # FIN, RSV1, text; masked, shortest length form


def test_websocket_compression_is_not_offered_so_a_deflate_bomb_inflates_nothing(live_server):
    """A browser offers permessage-deflate; Hypercorn 0.18 accepted it and wsproto inflates
    each received chunk whole before the message size is checked: 64 KiB of deflate
    became ~64 MB in the server per read, before `hello`, on as many sockets as may wait
    for it. The server now declines compression (frames are small JSON): the offer is
    not accepted and a compressed frame is a protocol error that closes the socket."""
    handshake = (b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                 b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n")
    pid = live_server.proc.pid
    before = _vm(pid, "VmHWM")
    bomb = _deflate_bomb(60_000)
    answers = []
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", live_server.port), timeout=5) as sock:
            sock.sendall(handshake)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                head += chunk
            answers.append(head.split(b"\r\n\r\n", 1)[0].lower())
            try:
                sock.sendall(bomb)
                while sock.recv(65536):
                    pass
            except OSError:
                pass  # closed on us: what we want
    for head in answers:
        assert head.startswith(b"http/1.1 101"), head
        assert b"sec-websocket-extensions" not in head, head
    grown_mib = (_vm(pid, "VmHWM") - before) / 1024
    assert grown_mib < 20, f"the server's peak memory grew {grown_mib:.0f} MiB on three 60 KiB frames"
    _still_serving(live_server)
