"""What store IT sees of a running shop: one request id on every log line of a
request's path (session, actor, journal), /readyz, the /metrics series, and
``laneserver status`` with the server running and without it."""

from __future__ import annotations

import hashlib
import json
import re
import urllib.request

import trio
from cryptography.hazmat.primitives import serialization

from laneserver.server.status import local_client
from tests.support import LiveServer, connect, until

GALETS = "3760245001015"  # A001, 8.90


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode()


def _samples(text: str) -> dict[str, float]:
    """Each sample line of a Prometheus text as ``name{labels}`` → value."""
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line and not line.startswith("#")}


async def test_request_ids_metrics_readyz_and_status(tmp_path):
    server = LiveServer(tmp_path / "data", serve_args=("--log-level", "debug")).start()
    try:
        token = server.pair("till", "1")
        with trio.fail_after(30):
            async with connect(server.ws_url, token) as till:
                await till.ok("scan", code=GALETS, qty=2)
                await till.ok("pay", mode="cash", amount="20.00")
                await till.ok("finish", receipt="none", id="the-finish")

            # One request id on the session's, the lane's and the journal's lines of the finish.
            def the_finish(line: dict) -> bool:
                return line["event"] == "request_answered" and line.get("re") == "the-finish"

            def finish_lines() -> list[dict] | None:
                lines = [json.loads(text) for text in list(server.output) if text.startswith("{")]
                return lines if any(map(the_finish, lines)) else None

            lines = await until(finish_lines)
            rid = next(line["request_id"] for line in lines if the_finish(line))
            on_path = [line for line in lines if line.get("request_id") == rid or rid in line.get("request_ids", ())]
            components = {line.get("component") for line in on_path}
            assert {"session", "lane", "journal"} <= components, on_path
            assert any(line["event"] == "sale_completed" and line["component"] == "lane" for line in on_path)
            # Lines of other requests carry other ids (per session tag, then its count).
            scan = next(line for line in lines if line["event"] == "request_answered" and line["verb"] == "scan")
            assert scan["request_id"] != rid and scan["request_id"].split("-")[0] == rid.split("-")[0]

            status, body = await trio.to_thread.run_sync(_get, server.url + "/readyz")
            assert status == 200 and json.loads(body)["answers"] == {"journal": "ok", "lane:1": "ok", "lane:2": "ok"}

            server.cli("backup", str(tmp_path / "first.sqlite3"))
            _, text = await trio.to_thread.run_sync(_get, server.url + "/metrics")
        metrics = _samples(text)
        assert metrics['laneserver_request_seconds_count{verb="scan"}'] == 1
        assert metrics['laneserver_request_seconds_bucket{verb="finish",le="+Inf"}'] == 1
        assert 0 < metrics['laneserver_request_seconds_sum{verb="finish"}'] < 5
        assert metrics["laneserver_journal_batch_size_count"] >= 3  # the scan, the pay, the finish at least
        assert 0 < metrics["laneserver_journal_commit_seconds_sum"] < 30
        assert metrics['laneserver_mailbox_depth{actor="lane:1"}'] == 0
        assert metrics['laneserver_mailbox_depth{actor="journal"}'] >= 0
        assert metrics['laneserver_sessions{kind="till"}'] == 0  # the till has left
        assert metrics['laneserver_paired_devices{kind="till",state="active"}'] == 1
        assert 0 <= metrics["laneserver_backup_age_seconds"] < 60
        assert "laneserver_last_closure_number" not in text  # no closures in this database
        assert metrics["laneserver_uptime_seconds"] > 0

        running = server.cli("status", "--port", str(server.port)).stdout
        assert "server: running since" in running and server.url in running, running
        assert "lanes: 1, 2" in running and "devices: till: 1 active" in running
        # The journal made the shop key at its first start: its fingerprint and public key.
        key = serialization.load_pem_private_key((server.data / "shop-key.pem").read_bytes(), password=None)
        raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        shown = f"shop key: {hashlib.sha256(raw).hexdigest()[:16]} (public key {raw.hex()})"
        assert "first.sqlite3" in running and "sales: 1" in running and shown in running, running
    finally:
        assert server.stop() == 0

    stopped = server.cli("status", "--port", str(server.port)).stdout
    assert re.search(r"server: not running \(nothing answers at http://127\.0\.0\.1:\d+/status", stopped), stopped
    assert "devices: till: 1 active" in stopped and "first.sqlite3" in stopped and "sales: 1" in stopped
    assert shown in stopped
    (server.data / "shop-key.pem").write_bytes(b"not a key")
    assert "shop key: unreadable" in server.cli("status", "--port", str(server.port)).stdout


def test_status_is_answered_to_the_box_only():
    assert local_client(("127.0.0.1", 5000), ("127.0.0.1", 8080))
    assert local_client(("::1", 5000), ("::1", 8080))
    assert local_client(("192.168.1.10", 5000), ("192.168.1.10", 8080))  # the box, on its own address
    assert not local_client(("192.168.1.23", 5000), ("192.168.1.10", 8080))
    assert not local_client(None, ("127.0.0.1", 8080))
