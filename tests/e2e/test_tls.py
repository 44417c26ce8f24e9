"""TLS end to end: ``laneserver tls init`` makes a shop CA and the server's certificate;
a server started with ``[server] tls = true`` answers HTTPS and WSS on its one port to
a client that trusts only that CA, and a client that does not trust it fails the
handshake."""

from __future__ import annotations

import json
import ssl
import stat

import pytest
import trio
from trio_websocket import open_websocket_url

from laneserver.config import ConfigError, parse_config
from laneserver.tls import files_of
from tests.support import LiveServer

SHOP = """
[server]
tls = true
hello_timeout = 2.0

[[stock_points]]
id = "main"

[[lanes]]
id = "1"
"""


async def _get_over_tls(port: int, path: str, context: ssl.SSLContext) -> tuple[str, dict]:
    """GET ``path`` on 127.0.0.1 over TLS with ``context``: (status line, JSON body)."""
    stream = await trio.open_ssl_over_tcp_stream("127.0.0.1", port, ssl_context=context, https_compatible=True)
    async with stream:
        await stream.send_all(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := await stream.receive_some(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(), json.loads(body)


async def test_https_and_wss_on_one_port_trusted_through_the_shop_ca(tmp_path):
    config = tmp_path / "shop.toml"
    config.write_text(SHOP, encoding="utf-8")
    server = LiveServer(tmp_path / "data", config=config)

    # Without the certificate the server refuses to start, naming the command to run.
    refused = server.cli("serve", "--port", "0", check=False)
    assert refused.returncode == 2 and "laneserver tls init" in refused.stderr

    made = server.cli("tls", "init", "--name", "caisse.example", "--ip", "10.20.30.40")
    files = files_of(server.data)
    for key in (files.ca_key, files.key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert "caisse.example" in made.stdout and "10.20.30.40" in made.stdout and "127.0.0.1" in made.stdout
    # A CA is never replaced by accident; the server's certificate can be signed again with it.
    again = server.cli("tls", "init", check=False)
    assert again.returncode == 1 and "--force" in again.stderr
    ca_before = files.ca_cert.read_bytes()
    server.cli("tls", "init", "--server-only")
    assert files.ca_cert.read_bytes() == ca_before

    server.start()
    try:
        assert server.url.startswith("https://127.0.0.1:")
        token = server.pair("till", "1")
        trusting = ssl.create_default_context(cafile=str(files.ca_cert))  # the shop CA only
        with trio.fail_after(20):
            status, body = await _get_over_tls(server.port, "/readyz", trusting)
            assert status.split()[1] == "200" and body["status"] == "ready", body

            async with open_websocket_url(server.ws_url, ssl_context=trusting) as ws:
                assert server.ws_url.startswith("wss://")
                await ws.send_message(json.dumps({"type": "hello", "id": "h", "token": token}))
                hello: dict = {}
                while hello.get("re") != "h":  # the lane's ticket event may come first
                    hello = json.loads(await ws.get_message())
                assert hello["type"] == "ok" and hello["lane"] == "1", hello

            # A client that does not trust the shop CA (the system's CAs only) fails the handshake.
            with pytest.raises(trio.BrokenResourceError) as failed:
                await _get_over_tls(server.port, "/readyz", ssl.create_default_context())
            assert isinstance(failed.value.__cause__, ssl.SSLCertVerificationError)
            # A connection that never starts its handshake is closed after hello_timeout.
            silent = await trio.open_tcp_stream("127.0.0.1", server.port)
            async with silent:
                opened = trio.current_time()
                with trio.fail_after(6):
                    assert await silent.receive_some(1024) == b""
                assert trio.current_time() - opened >= 1.5  # the handshake's deadline, not anything sooner
            # And the server goes on serving the till that trusts it.
            status, _ = await _get_over_tls(server.port, "/readyz", trusting)
            assert status.split()[1] == "200"
    finally:
        assert server.stop() == 0


def test_tls_keys_in_the_shop_file_are_checked():
    base = "[[stock_points]]\nid = \"main\"\n[[lanes]]\nid = \"1\"\n"
    with pytest.raises(ConfigError, match="tls_cert and server.tls_key"):
        parse_config("[server]\ntls = true\ntls_cert = \"c.pem\"\n" + base)
    with pytest.raises(ConfigError, match="server.tls is false"):
        parse_config("[server]\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"\n" + base)
    assert parse_config("[server]\ntls = true\n" + base).server.tls
