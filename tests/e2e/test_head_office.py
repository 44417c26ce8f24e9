"""Head office end to end (issue 19): real shop server processes ship their journal to
a real PostgreSQL this module starts itself (tests/pg_cluster.py: Debian's binaries, a
cluster in a temporary folder, run as ``postgres``, on loopback).

* one shop sells, head office is stopped (``pg_ctl stop``) while it sells on, comes
  back; the shop is killed (-9) while it ships its backlog, restarts → head office holds
  exactly the shop's journal (every chain, every record once) and ``hq verify`` passes;
* two shops (two processes, two data folders) ship into the same head office at once.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
import trio

from laneserver.store import hq, outbox
from laneserver.store.schema import DB_NAME
from tests.pg_cluster import Cluster
from tests.support import REPO, LiveServer, connect, until

WINE = "3760245001015"  # demo catalog: A001, 8.90


@pytest.fixture(scope="module")
def pg():
    cluster = Cluster().init().start()
    try:
        yield cluster
    finally:
        cluster.stop()
        cluster.remove()


def hq_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "laneserver", "hq", *args], check=False, capture_output=True, text=True,
                          cwd=REPO, timeout=60)


def head_office(pg: Cluster, name: str) -> str:
    dsn = pg.create_database(name)
    result = hq_cli("init", "--dsn", dsn)
    assert result.returncode == 0, result.stderr
    return dsn


def shop_server(tmp_path: Path, shop: str, dsn: str, batch: int = 500) -> LiveServer:
    config = tmp_path / f"{shop}.toml"
    config.write_text(
        'demo = true\n[[stock_points]]\nid = "main"\n[[lanes]]\nid = "1"\nstock_point = "main"\n'
        f'[head_office]\nshop = "{shop}"\ndsn = "{dsn}"\nevery = 0.1\nbackoff_max = 0.3\nbatch = {batch}\n'
        'lag_warning = 1\n', encoding="utf-8")
    return LiveServer(tmp_path / shop, config=config)


async def sell(url: str, token: str, count: int) -> None:
    async with connect(url, token) as till:
        for _ in range(count):
            await till.ok("scan", code=WINE)
            await till.ok("pay", mode="cash", amount="10.00")
            await till.ok("finish")


def shop_ends(server: LiveServer) -> dict[str, int]:
    """The last number of every chain the shop holds (what head office must hold)."""
    db = sqlite3.connect(server.data / DB_NAME)
    try:
        ends = outbox.lag(db, {}, outbox.parse_at("2000-01-01T00:00:00+00:00"))
        return {chain: lag.records for chain, lag in ends.items() if lag.records}
    finally:
        db.close()


def hq_positions(dsn: str, shop: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT chain, max(sequence), count(*) FROM records WHERE shop = %s GROUP BY chain",
                            (shop,)).fetchall()
    assert all(last == n for _, last, n in rows), rows  # no gap, nothing twice
    return {chain: last for chain, last, _ in rows}


def hq_sales(dsn: str, shop: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT count(*) FROM sales WHERE shop = %s", (shop,)).fetchone()[0]


def caught_up(server: LiveServer, dsn: str, shop: str) -> bool:
    """Head office holds exactly the shop's journal and ``hq verify`` passes (the anchor
    shipped after the last records)."""
    if hq_positions(dsn, shop) != shop_ends(server):
        return False
    with hq.connect(dsn) as conn:
        return hq.verify(conn, shop).ok


async def test_head_office_cut_and_shop_killed_while_shipping_holds_the_journal_exactly_once(tmp_path, pg):
    dsn = head_office(pg, "cut")
    server = shop_server(tmp_path, "S001", dsn, batch=2).start()
    try:
        token = server.pair("till", "1")
        with trio.fail_after(90):
            await sell(server.ws_url, token, 3)
            await until(lambda: hq_sales(dsn, "S001") == 3)
            pg.stop()  # head office cut: the shop sells on
            await sell(server.ws_url, token, 12)
            status = server.cli("status").stdout
            assert "records not yet at head office" in status, status
            assert "head office: shop S001" in status
            pg.start()
            # Killed while it ships its backlog (batches of 2 records, each noted in the
            # shop's meta): some of it is at head office, not all.
            before = sum(hq_positions(dsn, "S001").values())
            await until(lambda: sum(hq_positions(dsn, "S001").values()) > before, interval=0.002)
            server.kill()
            assert sum(hq_positions(dsn, "S001").values()) < sum(shop_ends(server).values())
            server.restart()
            await until(lambda: caught_up(server, dsn, "S001"))
        assert hq_sales(dsn, "S001") == 15
        report = hq_cli("verify", "--dsn", dsn, "--shop", "S001")
        assert report.returncode == 0 and "OK" in report.stdout and "anchor: sale 15" in report.stdout, report.stdout
        assert "signed by " in report.stdout  # the shop's key, shipped with its signed anchor
        with psycopg.connect(dsn) as conn:
            total = conn.execute("SELECT sum(total) FROM sales WHERE shop = 'S001'").fetchone()[0]
            tickets = conn.execute("SELECT sum(tickets) FROM x_chain").fetchone()[0]
        assert str(total) == "133.50" and tickets == 15
        live = server.cli("status").stdout
        assert "head office: shop S001, up to date" in live, live
    finally:
        server.stop()
    # Stopped: the JET's stop entry was written after the last batch; read from the data folder.
    stopped = server.cli("status").stdout
    assert "not running" in stopped and "not yet at head office" in stopped, stopped  # the stop entry, at least


async def test_two_shops_ship_into_one_head_office_at_once(tmp_path, pg):
    dsn = head_office(pg, "two")
    with hq.connect(dsn) as conn:  # a catalog for S001 only, with one article more
        demo = (REPO / "laneserver" / "demo" / "catalog.csv").read_text(encoding="utf-8")
        hq.publish_catalog(conn, demo + "Z999,Nouveauté,3.50,20,,,active,false,,,,,,false,,\n", "S001")
    one = shop_server(tmp_path, "S001", dsn).start()
    two = shop_server(tmp_path, "S002", dsn).start()
    try:
        tokens = one.pair("till", "1"), two.pair("till", "1")
        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(sell, one.ws_url, tokens[0], 6)
                nursery.start_soon(sell, two.ws_url, tokens[1], 4)
            await until(lambda: caught_up(one, dsn, "S001") and caught_up(two, dsn, "S002"))
        with psycopg.connect(dsn) as conn:
            by_shop = dict(conn.execute("SELECT shop, count(*) FROM sales GROUP BY shop").fetchall())
        assert by_shop == {"S001": 6, "S002": 4}
        # Applied by S001's shipper through its journal; S002 was not sent it.
        with trio.fail_after(20):
            await until(lambda: _article(one, "Z999"))
            async with connect(one.ws_url, tokens[0]) as till:  # the live reload sells it
                while (await till.call("add", article="Z999")).get("type") == "error":  # reloaded within ~1 s
                    await trio.sleep(0.2)
                await till.ok("cancel_ticket")
        assert not _article(two, "Z999")
        # The chain's FEC from head office: each shop's own export, merged.
        month = dt.datetime.now(dt.UTC).strftime("%Y-%m")
        own = [_shop_fec(server, month) for server in (one, two)]
        chain = hq_cli("fec", "--dsn", dsn, "--period", month, "--out", str(tmp_path / "chain.fec"))
        assert chain.returncode == 0, chain.stderr
        assert _debits(chain.stdout) == sum(entry.debit for entries in own for entry in entries) > 0
        lines = (tmp_path / "chain.fec").read_text(encoding="utf-8").splitlines()[1:]
        assert len(lines) == sum(len(entry.lines) for entries in own for entry in entries)
        assert any("\tS002-T000004\t" in line for line in lines)
        page = await trio.to_thread.run_sync(_metrics, one)
        assert 'laneserver_head_office_lag_records{chain="sale"} 0' in page
        assert "laneserver_head_office_connected 1" in page
    finally:
        one.stop()
        two.stop()
    # Changed or removed at head office: hq verify says which shop, which record.
    with psycopg.connect(dsn) as conn:
        conn.execute("UPDATE records SET record = replace(record, '8.90', '0.89')"
                     " WHERE shop = 'S002' AND chain = 'sale' AND sequence = 2")
        conn.execute("DELETE FROM records WHERE shop = 'S001' AND chain = 'sale' AND sequence = 6")
        conn.execute("UPDATE anchors SET public_key = %s WHERE shop = 'S002'", ("ab" * 32,))
    changed = hq_cli("verify", "--dsn", dsn, "--shop", "S002")
    assert changed.returncode == 1 and "BROKEN: sale record 2: content does not match its hash" in changed.stdout
    assert "BROKEN: the anchor is signed by a key that is not the shop's shipped public key" in changed.stdout
    cut = hq_cli("verify", "--dsn", dsn, "--shop", "S001")
    assert cut.returncode == 1 and "BROKEN: head office does not hold the anchored head: sale record 6" in cut.stdout


def _article(server: LiveServer, article: str) -> bool:
    db = sqlite3.connect(server.data / DB_NAME)
    try:
        return db.execute("SELECT 1 FROM articles WHERE id = ?", (article,)).fetchone() is not None
    finally:
        db.close()


def _shop_fec(server: LiveServer, month: str) -> list:
    """The shop's own FEC entries of ``month`` (what ``laneserver export fec`` writes)."""
    from laneserver.clock import shop_zone
    from laneserver.config import demo_config, fec_accounts
    from laneserver.rules.periods import parse_period
    from laneserver.store import fec as store_fec

    config = demo_config()
    zone = shop_zone(config.shop.timezone)
    first, last = parse_period(month, dt.datetime.now(zone).date())
    db = store_fec.open_read_only(server.data / DB_NAME)
    try:
        return store_fec.entries(db, first, last, zone, fec_accounts(config))
    finally:
        db.close()


def _debits(said: str) -> Decimal:
    return Decimal(said.rsplit("debits = credits = ", 1)[1].split()[0])


def _metrics(server: LiveServer) -> str:
    import urllib.request

    with urllib.request.urlopen(server.url + "/metrics", timeout=10) as response:
        return response.read().decode()


def test_hq_init_twice_verify_of_an_unknown_shop_and_an_unreachable_head_office(pg):
    dsn = head_office(pg, "tamper")
    with hq.connect(dsn) as conn:
        assert hq.init(conn) == (len(hq.SCHEMA), len(hq.SCHEMA))  # an upgrade with nothing to do
        nobody = hq.verify(conn, "nobody")
        # The ledger's read side: a top-up in one shop, a spend in another (a customer of the
        # chain: head office's id; a shop's own C<n> is that shop's books only).
        for shop, delta in (("S1", "20.00"), ("S2", "-5.00")):
            record = (f'{{"account":"wallet","at":"2026-01-15T10:00:00+01:00","balance":"{delta}","customer":"H001",'
                      f'"delta":"{delta}","kind":"topup","number":1,"type":"account"}}')
            hq.ship(conn, shop, [hq.Shipped("account", 1, "2026-01-15T10:00:00+01:00", record, "0" * 64, "h")])
        chain = conn.execute("SELECT customer, account, balance, shops FROM account_balances_chain").fetchall()
        assert chain == [("H001", "wallet", Decimal("15.00"), 2)]
    assert not nobody.ok and "holds nothing" in nobody.anchor
    unreachable = hq_cli("verify", "--dsn", "postgresql://postgres@127.0.0.1:1/x", "--shop", "S")
    assert unreachable.returncode == 1 and "head office:" in unreachable.stderr


def test_a_catalog_published_by_head_office_is_applied_once_and_a_bad_one_changes_nothing(pg, tmp_path):
    from laneserver.store import schema

    dsn = head_office(pg, "catalog")
    catalog = tmp_path / "catalog.csv"
    demo = (REPO / "laneserver" / "demo" / "catalog.csv").read_text(encoding="utf-8")
    catalog.write_text(demo, encoding="utf-8")
    published = hq_cli("publish", "--dsn", dsn, "--catalog", str(catalog), "--shop", "S001")
    assert published.returncode == 0 and "catalog version 1 published" in published.stdout, published.stderr
    db = schema.connect(tmp_path / DB_NAME)
    try:
        with hq.connect(dsn) as conn:
            assert hq.latest_catalog(conn, "S002", 0) is None  # published to S001 only
            version, content = hq.latest_catalog(conn, "S001", outbox.read_catalog_version(db))
            written = outbox.apply_catalog(db, version, content)
            assert written == len(demo.splitlines()) - 1
            assert outbox.read_catalog_version(db) == 1
            assert hq.latest_catalog(conn, "S001", outbox.read_catalog_version(db)) is None
            assert hq.publish_catalog(conn, "not;a;catalog\n") == 2  # refused by hq publish; here forced in
            version, content = hq.latest_catalog(conn, "S001", 1)
            assert outbox.apply_catalog(db, version, content) == 0
        assert outbox.read_catalog_version(db) == 2
        assert db.execute("SELECT count(*) FROM articles").fetchone()[0] == written
    finally:
        db.close()
    catalog.write_text("id;name\n", encoding="utf-8")
    refused = hq_cli("publish", "--dsn", dsn, "--catalog", str(catalog))
    assert refused.returncode == 1 and "nothing was published" in refused.stderr


def _published(server: LiveServer) -> list[tuple[str, dict]]:
    """The shop's events of head office's customers versions: (kind, data), in order."""
    import json

    db = sqlite3.connect(server.data / DB_NAME)
    try:
        rows = db.execute("SELECT kind, data FROM events WHERE kind IN ('CustomersPublished', 'CustomersPublishRefused')"
                          " ORDER BY seq").fetchall()
        return [(kind, json.loads(data)) for kind, data in rows]
    finally:
        db.close()


def _customer_rows(server: LiveServer) -> list[tuple]:
    db = sqlite3.connect(server.data / DB_NAME)
    try:
        return db.execute("SELECT customer, name, card, wallet_enabled, updated_at FROM customers"
                          " ORDER BY customer").fetchall()
    finally:
        db.close()


async def test_customers_published_by_head_office_are_applied_once_by_version(tmp_path, pg):
    dsn = head_office(pg, "customers")
    people = tmp_path / "customers.csv"
    people.write_text("customer;name;card;wallet\nH001;Jeanne Martin;2900000000011;true\nH002;Paul Durand;;\n",
                      encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text("customer,name\nC7,Une cliente de la boutique\n", encoding="utf-8")
    refused = hq_cli("publish", "--dsn", dsn, "--customers", str(bad))
    assert refused.returncode == 1 and "shops' own numbering" in refused.stderr and "nothing was published" in refused.stderr
    first = hq_cli("publish", "--dsn", dsn, "--customers", str(people))
    assert first.returncode == 0 and "customers version 1 published (2 customers)" in first.stdout, first.stderr
    server = shop_server(tmp_path, "S001", dsn).start()
    try:
        token = server.pair("till", "1")
        with trio.fail_after(60):
            await until(lambda: len(_published(server)) == 1)
            assert _published(server) == [("CustomersPublished", {"version": 1, "changed": ["H001", "H002"]})]
            async with connect(server.ws_url, token) as till:
                found = await till.ok("customer_search", text="jeanne")
                assert [(c["customer"], c["card"]) for c in found["customers"]] == [("H001", "2900000000011")]
                local = (await till.ok("customer_create", name="Client du coin", card="2900000000028"))["customer"]
            # v1 seen again by the next rounds (every 0.1 s): nothing changes.
            rows = _customer_rows(server)
            await trio.sleep(1.0)
            assert len(_published(server)) == 1 and _customer_rows(server) == rows
            # The same file again (v2): noted, no customer written; v3 with a change: applied once.
            assert hq_cli("publish", "--dsn", dsn, "--customers", str(people)).returncode == 0
            people.write_text("customer;name;card;wallet\nH001;Jeanne Martin-Roy;2900000000011;true\n"
                              "H002;Paul Durand;;\n", encoding="utf-8")
            assert "customers version 3 published" in hq_cli("publish", "--dsn", dsn, "--customers",
                                                              str(people), "--shop", "S001").stdout
            # v4: a card one of the shop's own customers carries: refused at the shop, nothing changes.
            people.write_text("customer,name,card\nH003,Autre,2900000000028\n", encoding="utf-8")
            assert hq_cli("publish", "--dsn", dsn, "--customers", str(people)).returncode == 0
            await until(lambda: len(_published(server)) == 4)
            await trio.sleep(0.5)
            events = _published(server)
            assert events[1:] == [
                ("CustomersPublished", {"version": 2, "changed": []}),
                ("CustomersPublished", {"version": 3, "changed": ["H001"]}),
                ("CustomersPublishRefused", {"version": 4, "reason": f"card 2900000000028 of H003 is customer "
                                                                     f"{local}'s in this shop"})]
            after = {row[0]: row for row in _customer_rows(server)}
            assert after["H002"] == {row[0]: row for row in rows}["H002"]  # unchanged since v1
            assert "H003" not in after
            async with connect(server.ws_url, token) as till:
                found = await till.ok("customer_search", text="2900000000011")
                assert [c["name"] for c in found["customers"]] == ["Jeanne Martin-Roy"]
            # Head office learns what the shop applied: the events are shipped back.
            await until(lambda: caught_up(server, dsn, "S001"))
        with psycopg.connect(dsn) as conn:
            applied = conn.execute("SELECT (data->>'version')::int FROM events WHERE shop = 'S001'"
                                   " AND kind = 'CustomersPublished' ORDER BY seq").fetchall()
        assert applied == [(1,), (2,), (3,)]
    finally:
        server.stop()


def _wallet_record(number: int, delta: str, kind: str, ref: str | None = None, customer: str = "H001") -> str:
    ref_part = f',"ref":"{ref}"' if ref else ""
    return (f'{{"account":"wallet","at":"2026-01-15T10:00:00+01:00","balance":"0","customer":"{customer}",'
            f'"delta":"{delta}","kind":"{kind}","number":{number}{ref_part},"type":"account"}}')


def test_two_shops_racing_for_the_last_of_a_wallet_get_one_hold_and_one_refusal(pg):
    import threading

    dsn = head_office(pg, "holds")
    with hq.connect(dsn) as conn:  # a top-up of 20.00 in S1, shipped
        hq.ship(conn, "S1", [hq.Shipped("account", 1, "2026-01-15T10:00:00+01:00",
                                        _wallet_record(1, "20.00", "topup"), "0" * 64, "h1")])
    barrier = threading.Barrier(2)
    answers: dict[str, object] = {}

    def ask(shop: str) -> None:
        with hq.connect(dsn) as own:
            barrier.wait(timeout=10)
            answers[shop] = hq.ask_hold(own, shop, "H001", "wallet", Decimal("15.00"))

    racers = [threading.Thread(target=ask, args=(shop,)) for shop in ("S1", "S2")]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=30)
    held = [a for a in answers.values() if isinstance(a, hq.Held)]
    short = [a for a in answers.values() if isinstance(a, hq.Short)]
    assert len(held) == 1 and [s.available for s in short] == [Decimal("5.00")], answers
    winner = next(shop for shop, a in answers.items() if isinstance(a, hq.Held))
    with hq.connect(dsn) as conn:
        hold = held[0].hold
        assert not hq.release_hold(conn, hold, "S9")  # another shop's hold: not its to release
        # Settled: counted until the shop's spend record is at head office, then the record counts.
        assert hq.settle_hold(conn, hold, winner, "sale:7")
        assert not hq.release_hold(conn, hold, winner)  # settled: the money was taken
        assert hq.available(conn, "H001", "wallet") == Decimal("5.00")
        hq.ship(conn, winner, [hq.Shipped("account", 2 if winner == "S1" else 1, "2026-01-15T10:05:00+01:00",
                                          _wallet_record(2, "-15.00", "spend", "sale:7"), "h1", "h2")])
        assert hq.available(conn, "H001", "wallet") == Decimal("5.00")  # not counted twice
        # A hold released, and one that lapsed (the shop crashed before its sale): no longer counted.
        other = hq.ask_hold(conn, "S2", "H001", "wallet", Decimal("5.00"))
        assert isinstance(other, hq.Held) and other.available == 0
        assert hq.release_hold(conn, other.hold, "S2")
        lapsed = hq.ask_hold(conn, "S2", "H001", "wallet", Decimal("5.00"), seconds=0)
        assert isinstance(lapsed, hq.Held)
        assert hq.available(conn, "H001", "wallet") == Decimal("5.00")
        with pytest.raises(ValueError):
            hq.ask_hold(conn, "S2", "H001", "wallet", Decimal(-1))
        # The till's look (``balances``): the chain's sums, the open holds split between the
        # asking shop's and the others', and how far head office holds the shop's account chain.
        mine = hq.ask_hold(conn, "S2", "H001", "wallet", Decimal("2.00"))
        assert isinstance(mine, hq.Held) and mine.up_to == (1 if winner == "S2" else 0)
        seen = hq.balances(conn, "S2", "H001")
        assert seen.accounts["wallet"] == hq.AccountFigures(Decimal("5.00"), Decimal("2.00"), Decimal("0"))
        assert seen.accounts["credit"] == hq.AccountFigures(Decimal("0"), Decimal("0"), Decimal("0"))
        assert seen.accounts["wallet"].available == Decimal("3.00") and seen.up_to == mine.up_to
        elsewhere = hq.balances(conn, "S9", "H001")
        assert elsewhere.accounts["wallet"].held_elsewhere == Decimal("2.00") and elsewhere.up_to == 0


def test_a_customer_a_shop_created_itself_is_that_shops_books_only(pg):
    """``C1`` of shop S1 and ``C1`` of shop S2 are two people (each shop numbers its own
    customers): S1's C1 topped up 20.00, S2's C1 has nothing, and neither can spend the
    other's money; head office's own customers (H…) stay chain-wide."""
    dsn = head_office(pg, "own_customers")
    with hq.connect(dsn) as conn:
        hq.ship(conn, "S1", [hq.Shipped("account", 1, "2026-01-15T10:00:00+01:00",
                                        _wallet_record(1, "20.00", "topup", customer="C1"), "0" * 64, "h1")])
        hq.ship(conn, "S2", [hq.Shipped("account", 1, "2026-01-15T10:01:00+01:00",
                                        _wallet_record(1, "-3.00", "spend", "sale:1", customer="C1"), "0" * 64, "h1")])
        refused = hq.ask_hold(conn, "S2", "C1", "wallet", Decimal("5.00"))
        assert isinstance(refused, hq.Short) and refused.available == Decimal("-3.00")
        assert hq.balances(conn, "S2", "C1").accounts["wallet"].balance == Decimal("-3.00")
        held = hq.ask_hold(conn, "S1", "C1", "wallet", Decimal("15.00"))
        assert isinstance(held, hq.Held) and held.available == Decimal("5.00")
        # S2's holds on its C1 do not count against S1's C1, nor the other way.
        assert hq.balances(conn, "S1", "C1").accounts["wallet"] == hq.AccountFigures(
            Decimal("20.00"), Decimal("15.00"), Decimal("0"))
        assert hq.balances(conn, "S2", "C1").accounts["wallet"].held == 0
        rows = conn.execute("SELECT customer, balance, ledger_shop FROM account_balances_chain"
                            " ORDER BY ledger_shop").fetchall()
        assert rows == [("C1", Decimal("20.00"), "S1"), ("C1", Decimal("-3.00"), "S2")]
        assert [(o.customer, o.balance, o.ledger_shop) for o in hq.overdrawn(conn)] == [("C1", Decimal("-3.00"), "S2")]
    listed = hq_cli("overdrawn", "--dsn", dsn)
    assert listed.returncode == 0 and "C1 wallet -3.00 (shop S2's own customer)" in listed.stdout, listed


class _ShipsAfterFirstRead:
    """A psycopg connection whose first statement after the account's lock is followed by
    ``then()`` (another connection's commit): the moment a shipper's batch may land."""

    def __init__(self, conn: psycopg.Connection, then) -> None:
        self._conn, self._then, self._locked = conn, then, False

    def execute(self, query, params=None):
        result = self._conn.execute(query, params)
        if "pg_advisory_xact_lock" in query:
            self._locked = True
        elif self._locked and self._then is not None:
            self._then()
            self._then = None
        return result

    def __getattr__(self, name):
        return getattr(self._conn, name)


def _topped_up_held_and_settled(conn, ref: str) -> None:
    """Shop S1's 20.00 top-up of H001 shipped, then 15.00 of it held by S1 and settled with
    ``ref`` (no record number: the spend is not shipped yet)."""
    hq.ship(conn, "S1", [hq.Shipped("account", 1, "2026-01-15T10:00:00+01:00",
                                    _wallet_record(1, "20.00", "topup"), "0" * 64, "h1")])
    held = hq.ask_hold(conn, "S1", "H001", "wallet", Decimal("15.00"))
    assert isinstance(held, hq.Held) and hq.settle_hold(conn, held.hold, "S1", ref)


def test_a_spend_shipped_while_a_hold_is_decided_is_counted_once(pg):
    """The shipper takes no lock: its batch carrying a settled hold's spend record may
    commit while another shop's ask is deciding. The balance, the open holds and
    ``up_to`` are one statement's figures (one snapshot): the settled hold and its record
    are counted exactly once, never neither (a second shop granted money already spent)."""
    dsn = head_office(pg, "holds_snapshot")
    with hq.connect(dsn) as conn:
        _topped_up_held_and_settled(conn, "sale:7")

        def ship_the_spend() -> None:
            with hq.connect(dsn) as shipper:
                hq.ship(shipper, "S1", [hq.Shipped("account", 2, "2026-01-15T10:05:00+01:00",
                                                   _wallet_record(2, "-15.00", "spend", "sale:7"), "h1", "h2")])

        second = hq.ask_hold(_ShipsAfterFirstRead(conn, ship_the_spend), "S2", "H001", "wallet", Decimal("15.00"))
        assert second == hq.Short(Decimal("5.00"), 0), second
        assert hq.available(conn, "H001", "wallet") == Decimal("5.00")


def test_a_settle_told_without_a_record_number_ends_only_with_the_spend_of_its_sale(pg):
    """A settle told with no record number (a shop row written before its migration 24, an
    older shop): the hold ends with the sale's spend of the hold's amount, not with any
    record carrying the sale's ref — the sale's top-up line shipped before its spend
    ended it, its 15.00 counted nowhere until the spend arrived."""
    dsn = head_office(pg, "holds_legacy_settle")
    with hq.connect(dsn) as conn:
        _topped_up_held_and_settled(conn, "sale:8")
        # The batch ends between the sale's top-up line (+20.00) and its spend.
        hq.ship(conn, "S1", [hq.Shipped("account", 2, "2026-01-15T10:05:00+01:00",
                                        _wallet_record(2, "20.00", "topup", "sale:8"), "h1", "h2")])
        assert hq.available(conn, "H001", "wallet") == Decimal("25.00")
        hq.ship(conn, "S1", [hq.Shipped("account", 3, "2026-01-15T10:05:00+01:00",
                                        _wallet_record(3, "-15.00", "spend", "sale:8"), "h2", "h3")])
        assert hq.available(conn, "H001", "wallet") == Decimal("25.00")


def _older_head_office(pg: Cluster, name: str, version: int) -> str:
    """A head office whose schema stopped at ``version``: not upgraded since (``hq init``
    of an older laneserver)."""
    dsn = pg.create_database(name)
    with hq.connect(dsn) as conn, conn.transaction():
        conn.execute("CREATE TABLE hq_schema (version integer NOT NULL)")
        conn.execute("INSERT INTO hq_schema(version) VALUES (%s)", (version,))
        for script in hq.SCHEMA[:version]:
            conn.execute(script)
    return dsn


async def test_a_shop_upgraded_before_its_head_office_says_so_not_that_head_office_does_not_answer(tmp_path, pg):
    """Head office's schema one migration behind the shop's (its holds without the shop's
    ``settled_record``): ``laneserver status`` and the log say head office's database is
    older and what to run there, never that head office does not answer (it did); the
    records are shipped all the same. A hold asked meanwhile is taken offline, as when
    head office is down; once ``hq init`` ran there, the holds' next look at head office's
    version clears the words and the next hold is held at head office."""
    from functools import partial

    from laneserver.actors.hq_holds import Granted, HoldStats, HqHolds
    from laneserver.actors.journal import JournalActor, read
    from laneserver.actors.runtime import open_mailbox
    from laneserver.clock import FixedClock
    from laneserver.config import HeadOfficeConfig
    from laneserver.store import hq_holds as store

    older = len(hq.SCHEMA) - 1
    dsn = _older_head_office(pg, "older", older)
    words = (f"head office's database is older than this shop's (version {older} < {len(hq.SCHEMA)}): "
             "run `laneserver hq init` on head office")
    server = shop_server(tmp_path, "S1", dsn).start()
    try:
        with trio.fail_after(60):
            await until(lambda: hq_positions(dsn, "S1"))  # shipped all the same

            def status() -> str | None:
                out = server.cli("status", "--port", str(server.port)).stdout
                return out if words in out else None

            said = await until(status, interval=0.2)
    finally:
        server.stop()
    assert f"head office: shop S1, up to date — {words}" in said, said
    assert "NOT ANSWERING" not in said
    log = "\n".join(server.output)
    assert "head_office_schema_too_old" in log and "unreachable" not in log, log

    clock = FixedClock(dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC))
    config = HeadOfficeConfig(shop="S2", dsn=dsn, hold_timeout=5, offline_wallet_limit="10.00")
    journal, inbox = open_mailbox("journal", 64)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            await nursery.start(JournalActor(tmp_path / "s2.sqlite3").run, inbox)
            holds = HqHolds(config, journal=journal, clock=clock, stats=HoldStats())
            await read(journal, partial(store.see, customer="H001", account="wallet", available=Decimal("8.00"),
                                        at=clock.now()))
            offline = await holds.ask("1", 1, "H001", "wallet", Decimal("6.00"))
            assert isinstance(offline, Granted) and offline.hold is None  # decided alone, within the allowance
            assert (holds.stats.schema_too_old, holds.stats.reachable) == (words, False)
            refused = await holds.hold_movement("H001", "wallet", Decimal("1.00"), "a top-up given back")
            assert refused.code == "unavailable" and refused.message == f"a top-up given back needs head office, and {words}"
            with hq.connect(dsn) as conn:  # upgraded; a top-up of 20.00 in another shop
                assert hq.init(conn) == (older, len(hq.SCHEMA))
                hq.ship(conn, "S9", [hq.Shipped("account", 1, "2026-01-15T10:00:00+01:00",
                                                _wallet_record(1, "20.00", "topup"), "0" * 64, "h1")])
            assert await holds.renew() == 0  # the holds' actor's look, every fifth of the hold time
            assert (holds.stats.schema_too_old, holds.stats.reachable) == (None, True)
            held = await holds.ask("1", 2, "H001", "wallet", Decimal("5.00"))
            holds.close()
            journal.close()
    assert isinstance(held, Granted) and held.hold is not None  # held at head office

    # A head office where ``hq init`` never ran: the shipper has nothing to ship into, and says so.
    from laneserver.actors.shipper import _Round

    bare = _Round(tmp_path / DB_NAME, HeadOfficeConfig(shop="S3", dsn=pg.create_database("bare")))
    with pytest.raises(hq.SchemaTooOld, match=r"\(version 0 < \d+\): run `laneserver hq init` on head office"):
        bare.connect()
    bare.close()
