"""Chain-wide wallets end to end (issue 19, the shop's side of head office's holds): real
shop server processes, a real PostgreSQL this module starts itself (one cluster for the
module, tests/pg_cluster.py), real tills on websockets.

* two shops, one customer published by head office, 20.00 topped up in shop A and shipped:
  A pays 15.00 by wallet (held at head office, finished, settled with the sale's ref);
  B asks 15.00 → refused, 5.00 available; head office stopped → each shop spends offline
  within its allowance (and the balance it last saw), no more; head office back → every
  spend shipped, the chain-wide balance right (below zero: reported by ``hq overdrawn``);
* the till's figures (the ``customer`` reply): head office's chain-wide balance, or offline
  the one last seen with its time (``balance_source``); a top-up made offline spendable
  past the allowance; the allowance free again once head office holds the spends;
* a shop killed (-9) between head office's hold and the sale's end: after the restart the
  hold is settled (the sale finished) or released (the ticket cancelled), never both,
  none left open.
"""

from __future__ import annotations

import datetime as dt
import socket
import sqlite3
import time
import urllib.request
from contextlib import asynccontextmanager
from decimal import Decimal
from decimal import Decimal as D
from functools import partial
from pathlib import Path

import psycopg
import trio
import trio.testing

from laneserver.actors.hq_holds import Granted, HoldStats, HqHolds, HqHoldsActor
from laneserver.actors.journal import JournalActor, commit, read
from laneserver.actors.lane_payments import LanePayments
from laneserver.actors.lane_steps import Granted as Asked
from laneserver.actors.lane_steps import LaneSteps
from laneserver.actors.runtime import open_mailbox
from laneserver.clock import SystemClock
from laneserver.config import Config, HeadOfficeConfig
from laneserver.rules.customers import Customer
from laneserver.store import hq, outbox
from laneserver.store import hq_holds as store
from laneserver.store.ops import MoveAccount, PutCustomer
from laneserver.store.schema import DB_NAME
from tests.e2e.configured import SOPHIE_PIN
from tests.e2e.test_head_office import caught_up, head_office, hq_cli, pg  # noqa: F401 (pg: the module's cluster)
from tests.support import LiveServer, connect, until

WINE = "3760245001015"  # demo catalog: 8.90
PEOPLE = "customer;name;card;wallet\nH001;Jeanne Martin;;true\nH002;Paul Durand;;true\n"


def wallet_shop(tmp_path: Path, shop: str, dsn: str, limit: str = "3.00") -> LiveServer:
    config = tmp_path / f"{shop}.toml"
    config.write_text(
        'demo = true\n[[stock_points]]\nid = "main"\n[[lanes]]\nid = "1"\nstock_point = "main"\n'
        f'[head_office]\nshop = "{shop}"\ndsn = "{dsn}"\nevery = 0.1\nbackoff_max = 0.3\n'
        f'offline_wallet_limit = "{limit}"\nhold_timeout = 1.0\n', encoding="utf-8")
    return LiveServer(tmp_path / shop, config=config)


def publish_customers(tmp_path: Path, dsn: str) -> None:
    people = tmp_path / "people.csv"
    people.write_text(PEOPLE, encoding="utf-8")
    assert hq_cli("publish", "--dsn", dsn, "--customers", str(people)).returncode == 0


def has_customer(server: LiveServer, customer: str) -> bool:
    db = sqlite3.connect(server.data / DB_NAME)
    try:
        return db.execute("SELECT 1 FROM customers WHERE customer = ?", (customer,)).fetchone() is not None
    finally:
        db.close()


def chain_balance(dsn: str, customer: str) -> Decimal | None:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT balance FROM account_balances_chain WHERE customer = %s AND account = 'wallet'",
                           (customer,)).fetchone()
    return None if row is None else row[0]


def holds(dsn: str, shop: str) -> list[tuple[Decimal, str | None, bool]]:
    """Head office's holds of ``shop``: (amount, settled ref, released), in order."""
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT amount, settled_ref, released_at IS NOT NULL FROM holds WHERE shop = %s"
                            " ORDER BY hold", (shop,)).fetchall()


def metrics(server: LiveServer) -> str:
    with urllib.request.urlopen(server.url + "/metrics", timeout=10) as response:
        return response.read().decode()


async def top_up(server: LiveServer, token: str, customer: str, amount: str) -> None:
    async with connect(server.ws_url, token) as till:
        await till.ok("wallet_topup", customer=customer, amount=amount, mode="cash")


async def test_two_shops_share_a_wallet_through_head_office_and_spend_offline_within_the_allowance(tmp_path, pg):  # noqa: F811
    dsn = head_office(pg, "wallets")
    publish_customers(tmp_path, dsn)
    one = wallet_shop(tmp_path, "S001", dsn).start()
    two = wallet_shop(tmp_path, "S002", dsn).start()
    try:
        tokens = one.pair("till", "1"), two.pair("till", "1")
        with trio.fail_after(90):
            await until(lambda: has_customer(one, "H001") and has_customer(two, "H001"))
            await top_up(one, tokens[0], "H001", "20.00")
            await until(lambda: chain_balance(dsn, "H001") == Decimal("20.00"))
            async with connect(one.ws_url, tokens[0]) as a, connect(two.ws_url, tokens[1]) as b:
                # Shop A: 15.00 held at head office, the sale finished, the hold settled with its ref.
                await a.ok("set_customer", customer="H001")
                await a.ok("scan", code=WINE)
                await a.ok("scan", code=WINE)
                await a.ok("pay", mode="wallet", amount="15.00")
                await a.ok("pay", mode="cash", amount="2.80")
                sale = (await a.ok("finish", receipt="none"))["number"]
                await until(lambda: holds(dsn, "S001") == [(Decimal("15.00"), f"sale:{sale}", False)])
                # Shop B, where the customer never topped up: what is left across the shops.
                await b.ok("set_customer", customer="H001")
                await b.ok("scan", code=WINE)
                await b.ok("scan", code=WINE)
                short = await b.call("pay", mode="wallet", amount="15.00")
                assert short["code"] == "insufficient_funds", short
                assert (short["available"], short["short"]) == ("5.00", "10.00")
                assert "5.00 available across the shops" in short["message"]
                await b.ok("cancel_ticket")

                pg.stop()  # head office down: each shop decides alone, within its allowance
                await b.ok("set_customer", customer="H001")
                await b.ok("scan", code=WINE)
                await b.ok("pay", mode="wallet", amount="3.00")
                more = await b.call("pay", mode="wallet", amount="0.50")
                assert more["code"] == "insufficient_funds" and more["available"] == "0.00", more
                assert "offline allowance of 3.00 per customer has 0.00 left" in more["message"]
                await b.ok("pay", mode="cash", amount="5.90")
                await b.ok("finish", receipt="none")
                await a.ok("set_customer", customer="H001")
                await a.ok("scan", code=WINE)
                await a.ok("pay", mode="wallet", amount="3.00")  # A last saw 5.00: within it too
                await a.ok("pay", mode="cash", amount="5.90")
                await a.ok("finish", receipt="none")
            status = two.cli("status", "--port", str(two.port)).stdout
            assert "wallet holds: 3 asked since the start, 1 short, 1 taken offline, 1 refused offline" in status, \
                status
            assert "NOT ANSWERING" in status
            page = await trio.to_thread.run_sync(metrics, two)
            assert 'laneserver_head_office_holds{outcome="short"} 1' in page
            assert 'laneserver_head_office_holds{outcome="offline"} 1' in page

            pg.start()  # back: every spend shipped; the customer spent 1.00 more than the chain held
            await until(lambda: caught_up(one, dsn, "S001") and caught_up(two, dsn, "S002"))
        assert chain_balance(dsn, "H001") == Decimal("-1.00")
        report = hq_cli("overdrawn", "--dsn", dsn)
        assert report.returncode == 0 and "H001 wallet -1.00 (2 shops)" in report.stdout, report
        assert holds(dsn, "S002") == []  # B held nothing at head office: its spend was offline
        db = sqlite3.connect(two.data / DB_NAME)
        try:  # B's own books: the spend it took for the chain, below zero there
            own = db.execute("SELECT sum(CAST(delta AS REAL)) FROM customer_movements WHERE customer = 'H001'"
                             ).fetchone()[0]
        finally:
            db.close()
        assert own == -3.0
    finally:
        one.stop()
        two.stop()


async def test_a_shop_killed_between_the_hold_and_the_end_of_the_sale_settles_or_releases_it(tmp_path, pg):  # noqa: F811
    dsn = head_office(pg, "killed")
    publish_customers(tmp_path, dsn)
    server = wallet_shop(tmp_path, "S003", dsn).start()
    try:
        token = server.pair("till", "1")
        with trio.fail_after(120):
            await until(lambda: has_customer(server, "H002"))
            await top_up(server, token, "H002", "20.00")
            await until(lambda: chain_balance(dsn, "H002") == Decimal("20.00"))
            # Held, then the shop dies before the sale's end: the ticket comes back with its
            # payment line, the hold with it; finished → settled.
            async with connect(server.ws_url, token) as till:
                await till.ok("set_customer", customer="H002")
                await till.ok("scan", code=WINE)
                await till.ok("pay", mode="wallet", amount="8.90")
            assert holds(dsn, "S003") == [(Decimal("8.90"), None, False)]
            server.kill()
            server.restart()
            async with connect(server.ws_url, token) as till:
                sale = (await till.ok("finish", receipt="none"))["number"]
            await until(lambda: holds(dsn, "S003")[0] == (Decimal("8.90"), f"sale:{sale}", False))
            # Held again, killed again; the line removed after the restart → released.
            async with connect(server.ws_url, token) as till:
                await till.ok("set_customer", customer="H002")
                await till.ok("scan", code=WINE)
                paid = await till.ok("pay", mode="wallet", amount="5.00")
            server.kill()
            server.restart()
            async with connect(server.ws_url, token) as till:
                await till.ok("remove_payment", payment=paid["ticket"]["payments"][0]["payment"])
                await till.ok("cancel_ticket")
            await until(lambda: len(holds(dsn, "S003")) == 2 and holds(dsn, "S003")[1][2])
            await until(lambda: caught_up(server, dsn, "S003"))
        settled, released = holds(dsn, "S003")
        assert settled == (Decimal("8.90"), f"sale:{sale}", False)  # never released too
        assert released == (Decimal("5.00"), None, True)  # never settled too
        assert chain_balance(dsn, "H002") == Decimal("11.10")
        db = sqlite3.connect(server.data / DB_NAME)
        try:
            rows = db.execute("SELECT state FROM hq_holds ORDER BY id").fetchall()
        finally:
            db.close()
        assert rows == [("settled",), ("released",)]
    finally:
        server.stop()


def counted(server: LiveServer) -> int:
    db = sqlite3.connect(server.data / DB_NAME)
    try:
        return db.execute("SELECT count(*) FROM hq_holds WHERE counted = 1").fetchone()[0]
    finally:
        db.close()


async def test_the_till_shows_the_chain_wide_balance_and_the_last_one_seen_offline(tmp_path, pg):  # noqa: F811
    dsn = head_office(pg, "balances")
    publish_customers(tmp_path, dsn)
    one = wallet_shop(tmp_path, "S004", dsn, limit="30.00").start()
    two = wallet_shop(tmp_path, "S005", dsn, limit="30.00").start()
    try:
        tokens = one.pair("till", "1"), two.pair("till", "1")
        with trio.fail_after(90):
            await until(lambda: has_customer(one, "H001") and has_customer(two, "H001"))
            await top_up(one, tokens[0], "H001", "50.00")
            await until(lambda: chain_balance(dsn, "H001") == Decimal("50.00"))
            async with connect(two.ws_url, tokens[1]) as b:
                # Shop B, where nothing was ever put on the wallet: head office's figure.
                before = dt.datetime.now(dt.UTC)
                seen = (await b.ok("customer", customer="H001"))["customer"]
                after = dt.datetime.now(dt.UTC)
                assert (seen["wallet"], seen["wallet_available"], seen["balance_source"]) == \
                    ("50.00", "50.00", "head_office"), seen
                assert "balance_at" not in seen
                pg.stop()  # head office down: the figure last seen, with its time, at once
                started = trio.current_time()
                cached = (await b.ok("customer", customer="H001"))["customer"]
                assert trio.current_time() - started < 3.0
                assert (cached["wallet"], cached["balance_source"]) == ("50.00", "head_office_cached"), cached
                assert before <= dt.datetime.fromisoformat(cached["balance_at"]) <= after
                # 10.00 topped up here offline: the customer's own money, spendable past the
                # 30.00 allowance; 35.00 spent by wallet, then 5.00 is all that is left.
                topped = (await b.ok("wallet_topup", customer="H001", amount="10.00", mode="cash"))["customer"]
                assert (topped["wallet"], topped["balance_source"]) == ("60.00", "head_office_cached")
                await b.ok("set_customer", customer="H001")
                for _ in range(5):
                    await b.ok("scan", code=WINE)  # 44.50
                await b.ok("pay", mode="wallet", amount="35.00")
                over = await b.call("pay", mode="wallet", amount="5.01")
                assert over["code"] == "insufficient_funds" and (over["available"], over["short"]) == \
                    ("5.00", "0.01"), over
                await b.ok("pay", mode="cash", amount="9.50")
                await b.ok("finish", receipt="none")
                cached = (await b.ok("customer", customer="H001"))["customer"]
                assert (cached["wallet"], cached["wallet_available"], cached["balance_source"]) == \
                    ("25.00", "25.00", "head_office_cached"), cached
                assert counted(two) == 1

                pg.start()  # back: once head office holds the spend, the allowance is free again
                await until(lambda: caught_up(two, dsn, "S005"))
                again = (await b.ok("customer", customer="H001"))["customer"]
                assert (again["wallet"], again["wallet_available"], again["balance_source"]) == \
                    ("25.00", "25.00", "head_office"), again
                assert counted(two) == 0
            async with connect(one.ws_url, tokens[0]) as a:
                there = (await a.ok("customer", customer="H001"))["customer"]
                assert (there["wallet"], there["balance_source"]) == ("25.00", "head_office"), there
        assert chain_balance(dsn, "H001") == Decimal("25.00")
    finally:
        one.stop()
        two.stop()


# --- in process: the shop's holds part on a real journal, against the module's PostgreSQL ---

def _topped_up(dsn: str, customer: str, amount: str) -> None:
    """Head office holds a top-up of ``amount`` of shop S0 for ``customer``."""
    record = (f'{{"account":"wallet","at":"2026-01-15T10:00:00+01:00","balance":"{amount}",'
              f'"customer":"{customer}","delta":"{amount}","kind":"topup","number":1,"type":"account"}}')
    with hq.connect(dsn) as conn:
        hq.ship(conn, "S0", [hq.Shipped("account", 1, "2026-01-15T10:00:00+01:00", record, "0" * 64, "h1")])


@asynccontextmanager
async def _holds_part(tmp_path: Path, dsn: str, *, hold_seconds: float = hq.HOLD_SECONDS, actor: bool = False,
                      hold_timeout: float = 2.0):
    """``HqHolds`` of shop S1 on a real JournalActor (a temp SQLite file), its actor
    (renewing, telling) running when ``actor``."""
    config = HeadOfficeConfig(shop="S1", dsn=dsn, hold_timeout=hold_timeout, offline_wallet_limit="10.00")
    journal, inbox = open_mailbox("journal", 64)
    async with trio.open_nursery() as nursery:
        await nursery.start(JournalActor(tmp_path / "db.sqlite3").run, inbox)
        holds = HqHolds(config, journal=journal, clock=SystemClock(), stats=HoldStats(), hold_seconds=hold_seconds)
        if actor:
            _, holds_inbox = open_mailbox("hq_holds", 4)
            await nursery.start(HqHoldsActor(holds).run, holds_inbox)
        else:
            await holds.load()
        yield holds
        nursery.cancel_scope.cancel()
    holds.close()


async def test_a_hold_under_a_ticket_open_longer_than_the_hold_time_is_renewed(tmp_path, pg):  # noqa: F811
    dsn = head_office(pg, "renewed")
    _topped_up(dsn, "H001", "20.00")
    with trio.fail_after(30):
        async with _holds_part(tmp_path, dsn, hold_seconds=1.0, actor=True) as holds:
            granted = await holds.ask("1", 1, "H001", "wallet", D("15.00"))
            assert isinstance(granted, Granted) and granted.hold is not None
            await trio.sleep(2.5)  # past the hold time: the line is still on the ticket
            with hq.connect(dsn) as conn:
                assert hq.available(conn, "H001", "wallet") == D("5.00")  # still held: not granted again
                assert isinstance(hq.ask_hold(conn, "S2", "H001", "wallet", D("15.00")), hq.Short)


def supervised_shop(tmp_path: Path, cluster, name: str, shop: str) -> tuple[str, LiveServer]:
    """Head office ``name`` (on the ``pg`` cluster) with the published customers, and shop
    ``shop`` started with a supervisor (sophie): (dsn, server)."""
    dsn = head_office(cluster, name)
    publish_customers(tmp_path, dsn)
    server = wallet_shop(tmp_path, shop, dsn)
    server.cli("seller", "add", "sophie", "--pin", SOPHIE_PIN, "--role", "supervisor")
    server.start()
    return dsn, server


async def topped_up_at_head_office(server, dsn: str, token: str) -> None:
    """H001 known to the shop, topped up 20.00 there, and head office counting it."""
    await until(lambda: has_customer(server, "H001"))
    await top_up(server, token, "H001", "20.00")
    await until(lambda: chain_balance(dsn, "H001") == Decimal("20.00"))


async def test_money_given_back_off_a_wallet_is_held_at_head_office_first(tmp_path, pg):  # noqa: F811
    """A top-up spent in another shop is not given back in cash here: with head office,
    ``wallet_topup_cancel`` (as a correction taking money off, or a sale's top-up taken
    back) needs head office's hold of the amount; offline it is refused."""
    dsn, server = supervised_shop(tmp_path, pg, "given_back", "S006")
    try:
        token = server.pair("till", "1")
        with trio.fail_after(90):
            await topped_up_at_head_office(server, dsn, token)  # top-up 1
            with hq.connect(dsn) as conn:  # shop S9 spent 15.00 of it
                hq.ship(conn, "S9", [hq.Shipped("account", 1, "2026-01-15T10:05:00+01:00",
                                                '{"account":"wallet","at":"2026-01-15T10:05:00+01:00","balance":"-15.00",'
                                                '"customer":"H001","delta":"-15.00","kind":"spend","number":1,'
                                                '"ref":"sale:1","type":"account"}', "0" * 64, "h1")])
            async with connect(server.ws_url, token) as till:
                back = await till.call("wallet_topup_cancel", topup=1)
                assert back["code"] == "insufficient_funds" and back["available"] == "5.00", back
                await till.ok("wallet_topup", customer="H001", amount="4.00", mode="cash")  # top-up 2
                await until(lambda: chain_balance(dsn, "H001") == Decimal("9.00"))
                await till.ok("wallet_topup_cancel", topup=2)  # covered across the shops: held, then settled
                await until(lambda: holds(dsn, "S006") == [(Decimal("4.00"), "topup_cancel|topup:2", False)])
                await until(lambda: caught_up(server, dsn, "S006"))
                with hq.connect(dsn) as conn:
                    assert hq.available(conn, "H001", "wallet") == Decimal("5.00")  # the cancel counted once
                # A correction taking money off: the same (the shop's own books say 20.00).
                fix = {"customer": "H001", "account": "wallet", "reason": "erreur", "supervisor_pin": SOPHIE_PIN}
                over = await till.call("balance_correct", amount="-6.00", **fix)
                assert over["code"] == "insufficient_funds" and over["available"] == "5.00", over
                await till.ok("balance_correct", amount="-1.00", **fix)
                await until(lambda: [(amount, ref.split(":")[0]) for amount, ref, _ in holds(dsn, "S006")[1:]]
                            == [(Decimal("1.00"), "correction|correction")])
                await until(lambda: caught_up(server, dsn, "S006"))
                with hq.connect(dsn) as conn:
                    assert hq.available(conn, "H001", "wallet") == Decimal("4.00")
                pg.stop()
                try:
                    await till.ok("wallet_topup", customer="H001", amount="1.00", mode="cash")  # top-up 3
                    offline = await till.call("wallet_topup_cancel", topup=3)
                    assert offline["code"] == "unavailable" and "head office does not answer" in offline["message"]
                finally:
                    pg.start()
    finally:
        server.stop()


def figures(dsn: str, customer: str) -> tuple[Decimal, Decimal]:
    """Head office's (balance, open holds) of the customer's wallet, as ``ask_hold`` counts them."""
    with hq.connect(dsn) as conn:
        wallet = hq.balances(conn, "S0", customer).accounts["wallet"]
    return wallet.balance, wallet.held


async def test_a_top_up_cancelled_in_a_sale_is_settled_with_the_sale_and_counted_once(tmp_path, pg):  # noqa: F811
    """A sale's top-up lines taking money off the wallet (a top-up cancelled on the
    ticket; a cancelled sale's top-up taken back) are held at head office first, then
    settled in the sale's own unit (``topup_cancel|sale:<n>``, ``sale_cancel|sale:<n>``):
    once the shop has shipped, head office counts the record alone at once — not the
    record and the hold until the hold lapses 10 minutes later — even when the shop is
    killed right after the sale (the settle is on its disk, told after the restart)."""
    dsn, server = supervised_shop(tmp_path, pg, "sale_topups", "S007")
    try:
        token = server.pair("till", "1")
        with trio.fail_after(120):
            await topped_up_at_head_office(server, dsn, token)
            async with connect(server.ws_url, token) as till:
                await till.ok("set_customer", customer="H001")
                await till.ok("scan", code=WINE)
                await till.ok("topup_line", amount="5.00", qty=-1)
                await till.ok("pay", mode="cash", amount="3.90")
                sale = (await till.ok("finish", receipt="none"))["number"]
            server.kill()
            server.restart()
            await until(lambda: caught_up(server, dsn, "S007"))
            with trio.fail_after(10):  # told at once (the actor is woken), not at the hold's lapse
                await until(lambda: figures(dsn, "H001") == (Decimal("15.00"), Decimal("0.00")))
            assert holds(dsn, "S007") == [(Decimal("5.00"), f"topup_cancel|sale:{sale}", False)]
            # A sale's top-up, the sale cancelled: the top-up taken back, settled with the counter-entry.
            async with connect(server.ws_url, token) as till:
                await till.ok("set_customer", customer="H001")
                await till.ok("topup_line", amount="10.00")
                await till.ok("pay", mode="cash", amount="10.00")
                topped = (await till.ok("finish", receipt="none"))["number"]
                cancelled = await till.ok("sale_cancel", sale=topped, reason="erreur de caisse",
                                          supervisor_pin=SOPHIE_PIN)
            await until(lambda: caught_up(server, dsn, "S007"))
            with trio.fail_after(10):
                await until(lambda: figures(dsn, "H001") == (Decimal("15.00"), Decimal("0.00")))
            assert holds(dsn, "S007")[1:] == [(Decimal("10.00"), f"sale_cancel|sale:{cancelled['number']}", False)]
            # A return refunded onto the wallet (8.90), the return then cancelled: the refund
            # taken back leaves the wallet, so head office holds it first. Another shop holding
            # 20.00 of the 23.90 meanwhile (the refund spent there), it is refused.
            async with connect(server.ws_url, token) as till:
                await till.ok("set_customer", customer="H001")
                await till.ok("scan", code=WINE, qty=-1)
                await till.ok("pay", mode="wallet", supervisor_pin=SOPHIE_PIN)
                returned = (await till.ok("finish", receipt="none"))["number"]
            await until(lambda: caught_up(server, dsn, "S007"))
            assert figures(dsn, "H001") == (Decimal("23.90"), Decimal("0.00"))
            with hq.connect(dsn) as conn:
                elsewhere = hq.ask_hold(conn, "S9", "H001", "wallet", D("20.00"))
            assert isinstance(elsewhere, hq.Held)
            async with connect(server.ws_url, token) as till:
                short = await till.call("sale_cancel", sale=returned, reason="erreur de caisse",
                                        supervisor_pin=SOPHIE_PIN)
                assert short["code"] == "insufficient_funds" and "3.90 available across the shops" in short["message"]
                assert (short.get("available"), short.get("short")) == ("3.90", "5.00"), short
                with hq.connect(dsn) as conn:
                    assert hq.release_hold(conn, elsewhere.hold, "S9")
                # Its unit fails after the hold was granted (the key this till used for another
                # request): the hold is given back at once, not left counted until it lapses.
                await till.ok("set_customer", customer="H001", key="used-once")
                reused = await till.call("sale_cancel", sale=returned, reason="erreur de caisse",
                                         supervisor_pin=SOPHIE_PIN, key="used-once")
                assert reused["code"] == "conflict" and reused["key_reused"] is True, reused
                assert _open_holds(dsn) == []
                undone = await till.ok("sale_cancel", sale=returned, reason="erreur de caisse",
                                       supervisor_pin=SOPHIE_PIN)
            await until(lambda: caught_up(server, dsn, "S007"))
            with trio.fail_after(10):
                await until(lambda: figures(dsn, "H001") == (Decimal("15.00"), Decimal("0.00")))
            assert holds(dsn, "S007")[2:] == [(Decimal("8.90"), None, True),  # the cancel whose unit failed
                                              (Decimal("8.90"), f"sale_cancel|sale:{undone['number']}", False)]
        db = sqlite3.connect(server.data / DB_NAME)
        try:
            rows = db.execute("SELECT state, ref FROM hq_holds ORDER BY id").fetchall()
        finally:
            db.close()
        assert rows == [("settled", f"topup_cancel|sale:{sale}"),
                        ("settled", f"sale_cancel|sale:{cancelled['number']}"),
                        ("settled", f"sale_cancel|sale:{undone['number']}")]
    finally:
        server.stop()


def _open_holds(dsn: str) -> list[int]:
    with psycopg.connect(dsn) as conn:
        return [hold for hold, in conn.execute("SELECT hold FROM holds WHERE released_at IS NULL"
                                               " AND settled_ref IS NULL ORDER BY hold")]


async def test_a_hold_granted_just_as_the_deadline_passes_is_used_not_lost(tmp_path, pg):  # noqa: F811
    """Head office's ``Held`` reaches the worker thread, then the event loop is late (busy
    past ``hold_timeout``): the deadline and the answer are due at once. The answer in
    hand is used (one hold, the lane's), never dropped with the hold left open."""
    dsn = head_office(pg, "deadline")
    _topped_up(dsn, "H001", "20.00")
    with trio.fail_after(30):
        async with _holds_part(tmp_path, dsn, hold_timeout=0.3) as holds, trio.open_nursery() as nursery:
            answers = []

            async def ask() -> None:
                answers.append(await holds.ask("1", 1, "H001", "wallet", D("5.00")))

            nursery.start_soon(ask)
            await trio.testing.wait_all_tasks_blocked()  # the lane waits on the thread
            time.sleep(1.5)  # the loop busy: the thread gets its Held, the deadline passes
        [granted] = answers
        assert isinstance(granted, Granted) and granted.hold is not None, granted
        assert _open_holds(dsn) == [granted.hold]


async def test_a_sales_held_top_up_cancel_is_given_back_when_the_sale_is_not_written(tmp_path, pg):  # noqa: F811
    """The hold the customers actor took for a top-up cancelled in a sale rides on the
    settle's movement; when the sale is not written after all (a later ask refused, the
    commit failed: ``LaneSteps.undo``), the lane gives it back at once."""
    dsn = head_office(pg, "not_written")
    _topped_up(dsn, "H001", "20.00")
    with trio.fail_after(30):
        async with _holds_part(tmp_path, dsn) as holds:
            hold = await holds.hold_movement("H001", "wallet", D("5.00"), "taking back the top-up cancelled")
            assert isinstance(hold, int) and _open_holds(dsn) == [hold]
            paying = LanePayments("1", config=Config(), clock=SystemClock(), terminal=None, customers=None,
                                  log=holds.log, hq_holds=holds)
            steps = LaneSteps("1", stock=None, stock_point="main", customers=None, drawer=None, paying=paying,
                              receipts=None, article=lambda article: None)
            asked = Asked()
            asked.moves.append(MoveAccount(at=holds.clock.now(), customer="H001", account="wallet",
                                           delta=-D("5.00"), kind="topup_cancel", lane="1", hold=hold))
            await steps.undo((), asked)  # nothing else granted to tell back
            assert _open_holds(dsn) == []
            with hq.connect(dsn) as conn:
                assert hq.available(conn, "H001", "wallet") == D("20.00")


def test_a_settled_sale_cancel_hold_stops_counting_with_its_own_record_only(pg):  # noqa: F811
    """A cancelled sale's records all carry ``sale_cancel|sale:<n>`` (its wallet
    payments given back, its top-up taken back): the hold of the top-up taken back stops
    counting when the record taking that amount off arrives, not with another one."""
    dsn = head_office(pg, "sale_cancel_ref")
    _topped_up(dsn, "H001", "20.00")

    def record(number: int, delta: str) -> hq.Shipped:
        return hq.Shipped("account", number, "2026-01-15T11:00:00+01:00",
                          f'{{"account":"wallet","at":"2026-01-15T11:00:00+01:00","balance":"0","customer":"H001",'
                          f'"delta":"{delta}","kind":"sale_cancel","number":{number},"ref":"sale:9","type":"account"}}',
                          "0" * 64, f"h{number}")

    with hq.connect(dsn) as conn:
        held = hq.ask_hold(conn, "S1", "H001", "wallet", D("10.00"))
        assert isinstance(held, hq.Held)
        assert hq.settle_hold(conn, held.hold, "S1", "sale_cancel|sale:9")
        hq.ship(conn, "S1", [record(1, "3.00")])  # a payment given back, shipped first: the hold still counts
        assert hq.available(conn, "H001", "wallet") == D("13.00")
        hq.ship(conn, "S1", [record(2, "-10.00")])  # the top-up taken back: counted once, as the record
        assert hq.available(conn, "H001", "wallet") == D("13.00")
        assert hq.balances(conn, "S1", "H001").accounts["wallet"].held == 0


async def test_a_payment_lines_hold_stops_counting_only_with_the_record_taking_its_amount_off(tmp_path, pg):  # noqa: F811
    """Every account record of a sale carries ``sale:<n>``. Sale 9 tops the wallet up by
    10.00 (its record first) and pays 15.00 from it (held at head office); sale 10 pays
    5.00 + 5.00 from it (two lines, two holds). Shipped in batches that split between a
    sale's records, a hold counts until the very record taking its amount off is at head
    office: never the record and the hold both gone (an under-count, on the unsafe side)."""
    dsn = head_office(pg, "split_sale")
    _topped_up(dsn, "H001", "30.00")
    with trio.fail_after(30):
        async with _holds_part(tmp_path, dsn) as holds:
            lines = ((1, "15.00"), (2, "5.00"), (3, "5.00"))
            sold = [await holds.ask("1", payment, "H001", "wallet", D(amount)) for payment, amount in lines]
            assert all(isinstance(g, Granted) and g.hold is not None for g in sold), sold
            now = holds.clock.now()

            def move(delta: str, kind: str, ref: str, payment: int | None = None) -> MoveAccount:
                return MoveAccount(at=now, customer="H001", account="wallet", delta=D(delta), kind=kind, ref=ref,
                                   lane="1", payment=payment, mode="cash" if kind == "topup" else None)

            await commit(holds.journal, PutCustomer(customer=Customer(customer="H001", name="Jeanne",
                                                                      wallet_enabled=True), at=now),
                         move("10.00", "topup", "sale:9"), move("-15.00", "spend", "sale:9", 1))
            await commit(holds.journal, move("-5.00", "spend", "sale:10", 2), move("-5.00", "spend", "sale:10", 3))
            assert await holds.tell_round() == 3
            records = await read(holds.journal, lambda db: list(outbox.items(db, "account", 0)))
            assert [r.sequence for r in records] == [1, 2, 3, 4]
        with hq.connect(dsn) as conn:
            # 30.00 here, 25.00 held (settled: counting until their records arrive).
            assert hq.available(conn, "H001", "wallet") == D("5.00")
            hq.ship(conn, "S1", records[:1])  # sale 9's top-up alone: its spend's hold still counts
            assert hq.available(conn, "H001", "wallet") == D("15.00")
            hq.ship(conn, "S1", records[1:3])  # sale 9's spend, and the first line of sale 10 only
            assert hq.available(conn, "H001", "wallet") == D("15.00")
            assert hq.balances(conn, "S1", "H001").accounts["wallet"].held == D("5.00")
            hq.ship(conn, "S1", records[3:])
            assert hq.available(conn, "H001", "wallet") == D("15.00")
            assert hq.balances(conn, "S1", "H001").accounts["wallet"].held == 0


async def test_a_lane_restarting_while_another_takes_a_hold_loses_none_of_the_others(tmp_path, monkeypatch):
    """Lane 1 restarts (``report``) while lane 2 takes a hold (offline here: head office
    refuses the connection at once). The journal's snapshot of the rows on ticket lines
    that lane 1's restart reads may predate lane 2's new row (lane 2 is answered after the
    snapshot, before lane 1 resumes: trio runs them in either order): made so here. Lane
    2's entry must survive lane 1's restart, so its line gone releases its row."""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: refused at once
    real_live = store.live

    def before_lane_2(db, lane=None):  # the snapshot taken just before lane 2's row was written
        rows = real_live(db) if lane is None else real_live(db, lane)
        return {entry for entry in rows if entry[0] != "2"}

    with trio.fail_after(30):
        async with _holds_part(tmp_path, f"postgresql://postgres@127.0.0.1:{port}/hq") as holds:
            await read(holds.journal, partial(store.see, customer="H001", account="wallet", available=D("100.00"),
                                              at=holds.clock.now()))
            assert isinstance(await holds.ask("2", 5, "H001", "wallet", D("1.00")), Granted)
            monkeypatch.setattr(store, "live", before_lane_2)
            await holds.report("1", [])
            monkeypatch.setattr(store, "live", real_live)
            await holds.gone("2", [5])
            assert await read(holds.journal, partial(store.live)) == set()  # released: not left on no line


async def test_an_allowance_count_read_before_a_spend_taken_offline_does_not_clear_it(tmp_path, monkeypatch):
    """Head office answers lane 1 and the journal counts the offline spends still counted
    (none); before that count reaches the holds part, lane 2 takes a spend offline. The
    stale "none" must not clear the flag that makes the next answers look again, or lane
    2's spend would stay counted in the customer's allowance for good."""
    from laneserver.actors import hq_holds as part

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    real_read = part.read
    with trio.fail_after(30):
        async with _holds_part(tmp_path, f"postgresql://postgres@127.0.0.1:{port}/hq") as holds:
            await read(holds.journal, partial(store.see, customer="H001", account="wallet", available=D("100.00"),
                                              at=holds.clock.now()))

            async def late(journal, fn):
                answer = await real_read(journal, fn)
                if getattr(fn, "func", None) is store.reachable:  # lane 2 spends while the count is on its way
                    monkeypatch.setattr(part, "read", real_read)
                    assert isinstance(await holds.ask("2", 1, "H001", "wallet", D("1.00")), Granted)
                return answer

            monkeypatch.setattr(part, "read", late)
            await holds._answered(0)  # head office's answer to lane 1 (holding nothing of this shop)
            assert holds._counted  # lane 2's spend counts: the next answer looks again
            assert await read(holds.journal, partial(store.reachable, up_to=0)) == 1
