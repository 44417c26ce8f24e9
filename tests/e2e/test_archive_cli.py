"""``laneserver archive`` and ``laneserver archive verify`` on a real shop: a month's
sales archived while the server runs, checked with no database, then refused once one
byte is changed or when signed by another key."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

from laneserver.store import shop_key
from tests.e2e.test_startup_check import sell
from tests.support import REPO, LiveServer


def laneserver(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "laneserver", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=60)


def test_a_month_is_archived_while_selling_and_checked_offline(tmp_path):
    server = LiveServer(tmp_path / "data").start()
    month = dt.date.today().strftime("%Y-%m")
    out = tmp_path / "archive.jsonl"
    try:
        token = server.pair("till", "1")
        sell(server, token, 2)
        shop_key.load_or_create(server.data / shop_key.KEY_NAME)  # made at the first start once signing lands
        written = server.cli("archive", "--period", month, "--out", str(out))
    finally:
        assert server.stop() == 0
    assert f"archive of {month} written" in written.stdout and "sale 2, payment 4" in written.stdout
    assert "partial: the month is not over yet" in written.stdout
    public = tmp_path / "shop.pub"
    public.write_text(shop_key.public_hex(shop_key.load_key(server.data / shop_key.KEY_NAME)))

    # Offline: another folder, no data folder, no database.
    offline = tmp_path / "elsewhere"
    offline.mkdir()
    copy = offline / "archive.jsonl"
    copy.write_bytes(out.read_bytes())
    ok = laneserver("archive", "verify", str(copy), "--key", str(public), "--data", str(offline / "none"))
    assert ok.returncode == 0, ok.stderr
    assert "ok: archive of" in ok.stdout and "sale 2, payment 4" in ok.stdout
    assert not (offline / "none").exists()

    data = bytearray(copy.read_bytes())
    spot = data.index(b'"total":"') + len(b'"total":"')
    data[spot] = ord("9") if data[spot] != ord("9") else ord("8")
    copy.write_bytes(bytes(data))
    bad = laneserver("archive", "verify", str(copy))
    assert bad.returncode == 1
    assert "sale record 1: content does not match its hash" in bad.stdout

    other = tmp_path / "other.pub"
    other.write_text(shop_key.public_hex(shop_key.load_or_create(tmp_path / "other.pem")))
    copy.write_bytes(out.read_bytes())
    wrong = laneserver("archive", "verify", str(copy), "--key", str(other))
    assert wrong.returncode == 1 and "another key" in wrong.stdout


def test_bad_arguments_are_refused_and_write_nothing(tmp_path):
    out = tmp_path / "a.jsonl"
    data = ["--data", str(tmp_path / "data")]
    (tmp_path / "data").mkdir()
    for args, words in [
        (["archive", "--period", "2026-13", "--out", str(out)], "no month 13"),
        (["archive", "--period", "2026-11", "--out", str(tmp_path / "data" / "laneserver.sqlite3")], "data folder"),
        (["archive", "--period", "2026-11"], "--out FILE are both needed"),
        (["archive", "--period", "2026-11", "--out", str(tmp_path / "no" / "a.jsonl")], "does not exist"),
        (["archive", "verify"], "which FILE"),
        (["archive", "verify", str(out)], "cannot read"),
        (["archive", "--period", "2026-11", "--out", str(out)], "no database"),
    ]:
        result = laneserver(*args, *data)
        assert result.returncode in (1, 2), (args, result)
        assert words in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert not out.exists()
