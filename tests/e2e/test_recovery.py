"""Crash and restart: kill -9 loses nothing acknowledged; SIGTERM shuts down in order;
``verify`` finds tampering; ``backup`` makes a usable copy."""

from __future__ import annotations

import sqlite3

import trio

from tests.support import connect

GALETS = "3760245001015"
BAGUETTE = "3729183010046"
LAMOTHE = "3451203000279"


async def test_kill_9_keeps_open_and_held_tickets_exactly(live_server):
    token1 = live_server.pair("till", "1")
    token2 = live_server.pair("till", "2")
    with trio.fail_after(60):
        async with connect(live_server.ws_url, token1) as till, connect(live_server.ws_url, token2) as other:
            await till.ok("scan", code=GALETS, qty=2)
            await till.ok("hold")
            await till.ok("scan", code=BAGUETTE, qty="3")
            await till.ok("scan", code=LAMOTHE)
            await till.ok("set_qty", line=2, qty=2)
            await till.ok("pay", mode="cash", amount="5.00")
            open_before = (await till.ok("ticket"))["ticket"]
            held_before = (await till.ok("held"))["tickets"]
            await other.ok("scan", code=LAMOTHE)
            await other.ok("pay", mode="card")
            sale = await other.ok("finish", receipt="none")
        live_server.kill()
        live_server.restart()
        async with connect(live_server.ws_url, token1) as till, connect(live_server.ws_url, token2) as other:
            assert (await till.ok("ticket"))["ticket"] == open_before
            assert (await till.ok("held"))["tickets"] == held_before
            assert (await other.ok("ticket"))["ticket"]["lines"] == []
            # Numbering continues with no gap; the held ticket can be finished.
            await till.ok("remove_payment", payment=1)
            await till.ok("pay", mode="card")
            second = await till.ok("finish", receipt="none")
            assert second["number"] == sale["number"] + 1
            await till.ok("recall", held="1-1")
            await till.ok("pay", mode="card")
            third = await till.ok("finish", receipt="none")
            assert third["number"] == sale["number"] + 2
            # Reservations were rebuilt from the tickets: nothing open now.
            points = (await till.ok("stock", article="A001"))["points"]
            assert points[0]["reserved"] == "0" and points[0]["real"] == "22"
    assert live_server.cli("verify").returncode == 0


async def test_sigterm_stops_cleanly_and_keeps_everything(live_server):
    token = live_server.pair("till", "1")
    with trio.fail_after(40):
        async with connect(live_server.ws_url, token) as till:
            await till.ok("scan", code=GALETS)
            await till.ok("pay", mode="cash", amount="10.00")
            await till.ok("finish", receipt="none")
            await till.ok("scan", code=BAGUETTE)
        assert live_server.stop() == 0
        output = "\n".join(live_server.output)
        assert "lane_stopped" in output and "journal_closed" in output and "server_stopped" in output
        live_server.restart()
        async with connect(live_server.ws_url, token) as till:
            ticket = (await till.ok("ticket"))["ticket"]
            assert [l["article"] for l in ticket["lines"]] == ["A100"]


def _sell(server, count: int) -> None:
    async def main() -> None:
        token = server.pair("till", "1")
        async with connect(server.ws_url, token) as till:
            for _ in range(count):
                await till.ok("scan", code=GALETS)
                await till.ok("pay", mode="cash", amount="20.00")
                await till.ok("finish", receipt="none")

    trio.run(main)


def test_verify_detects_a_changed_field_and_a_removed_record(live_server):
    _sell(live_server, 3)
    live_server.stop()
    ok = live_server.cli("verify", check=False)
    assert ok.returncode == 0 and "ok: 3 records" in ok.stdout and "intact" in ok.stdout

    db_path = live_server.data / "laneserver.sqlite3"
    db = sqlite3.connect(db_path)
    db.execute("DROP TRIGGER sales_no_update")
    db.execute("UPDATE sales SET total='0.90' WHERE number=2")
    db.commit()
    db.close()
    broken = live_server.cli("verify", check=False)
    assert broken.returncode == 1
    assert "sale record 2" in broken.stdout + broken.stderr and "changed" in broken.stdout + broken.stderr


def test_verify_detects_a_removed_middle_record_and_tampered_payment(live_server):
    _sell(live_server, 3)
    live_server.stop()
    db = sqlite3.connect(live_server.data / "laneserver.sqlite3")
    db.execute("DROP TRIGGER payments_no_update")
    db.execute("UPDATE payments SET amount='2.00' WHERE number=3")
    db.commit()
    db.close()
    result = live_server.cli("verify", check=False)
    assert result.returncode == 1 and "payment record 3" in result.stdout

    db = sqlite3.connect(live_server.data / "laneserver.sqlite3")
    db.execute("DROP TRIGGER sales_no_delete")
    db.execute("PRAGMA foreign_keys=OFF")
    db.execute("DELETE FROM sales WHERE number=2")
    db.commit()
    db.close()
    result = live_server.cli("verify", check=False)
    assert result.returncode == 1 and "sale record 2" in result.stdout and "missing" in result.stdout


def test_fiscal_tables_refuse_updates(live_server):
    _sell(live_server, 1)
    live_server.stop()
    db = sqlite3.connect(live_server.data / "laneserver.sqlite3")
    for statement in ("UPDATE sales SET total='1.00'", "DELETE FROM payments", "DELETE FROM events"):
        try:
            db.execute(statement)
        except sqlite3.DatabaseError as error:
            assert "append-only" in str(error)
        else:
            raise AssertionError(f"{statement} was allowed")


def test_backup_is_a_consistent_copy_while_serving(live_server, tmp_path):
    _sell(live_server, 2)
    dest = tmp_path / "copy.sqlite3"
    result = live_server.cli("backup", str(dest))
    assert result.returncode == 0 and dest.exists()
    copy = sqlite3.connect(dest)
    assert copy.execute("SELECT count(*) FROM sales").fetchone()[0] == 2
    again = live_server.cli("backup", str(dest), check=False)
    assert again.returncode == 1 and "already exists" in again.stderr


def test_sigterm_does_not_wait_for_open_pages(live_server):
    """Shutdown ends the open sessions at once (the tills reconnect to the next
    server) instead of waiting out the grace period for browsers to hang up."""
    import time

    token = live_server.pair("till", "1")
    closed = []

    async def main() -> None:
        async with connect(live_server.ws_url, token) as till:
            await till.ok("scan", code=GALETS)
            started = time.monotonic()
            live_server.proc.send_signal(__import__("signal").SIGTERM)
            from trio_websocket import ConnectionClosed

            with trio.fail_after(10):
                try:
                    while True:
                        await till.ws.get_message()
                except ConnectionClosed as error:
                    closed.append((time.monotonic() - started, error.reason.code))

    trio.run(main)
    assert live_server.proc.wait(10) == 0
    seconds, code = closed[0]
    assert seconds < 3 and code == 1001
