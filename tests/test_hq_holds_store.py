"""The shop's hold rows (store/hq_holds.py) on a real SQLite file, written as the journal
writes them: a row leaves ``open`` once, settled by the sale's unit or released, never
both; the offline allowance through the store (decided and written in one step, reset
when head office answers); a spend head office held may take the shop's own sum below
zero, one it did not may not."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from laneserver.rules.customers import Customer
from laneserver.rules.outcome import Refused
from laneserver.store import hq_holds, schema
from laneserver.store.ops import MoveAccount, PutCustomer
from laneserver.store.writes import Writer

T0 = dt.datetime(2026, 12, 6, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def db(tmp_path):
    db = schema.connect(tmp_path / "shop.sqlite3")
    yield db
    db.close()


def states(db) -> dict[int, tuple[str, str | None]]:
    return {i: (s, r) for i, s, r in db.execute("SELECT id, state, ref FROM hq_holds")}


def spend(lane: str, payment: int, amount: str, ref: str) -> MoveAccount:
    return MoveAccount(at=T0, customer="H1", account="wallet", delta=-D(amount), kind="spend", lane=lane,
                       payment=payment, ref=ref)


def test_a_row_is_settled_by_its_sale_or_released_never_both(db):
    writer = Writer(db)
    writer.apply(PutCustomer(customer=Customer(customer="H1", name="Jeanne", wallet_enabled=True), at=T0))
    sold = hq_holds.held(db, "1", 1, "H1", "wallet", D("15.00"), 41, D("5.00"), T0)
    removed = hq_holds.held(db, "1", 2, "H1", "wallet", D("2.00"), 42, D("3.00"), T0)
    # The sale's unit: the spend of line 1 settles its row (the shop's own sum goes below
    # zero: head office held the money, topped up in another shop).
    moved = writer.apply(spend("1", 1, "15.00", "sale:7"))
    assert moved.balance == D("-15.00")
    assert hq_holds.gone(db, "1", [1, 2]) == 1  # the lines gone after the sale: only line 2 released
    assert states(db) == {sold: ("settle", "sale:7"), removed: ("release", None)}
    assert [(r.hold, r.state, r.ref) for r in hq_holds.to_tell(db)] == [(41, "settle", "sale:7"), (42, "release", None)]
    assert not hq_holds.settle_spend(db, "1", 2, "H1", "wallet", "sale:8")  # released: never settled too
    assert hq_holds.gone(db, "1", [1]) == 0  # settled: never released too
    for row in hq_holds.to_tell(db):
        hq_holds.told(db, row.id, row.state, T0)
        hq_holds.told(db, row.id, row.state, T0)  # told twice (a crash before the note): once
    assert states(db) == {sold: ("settled", "sale:7"), removed: ("released", None)}
    assert hq_holds.to_tell(db) == []
    # A spend no hold row covers may not take the shop's own sum below zero.
    with pytest.raises(ValueError, match="would be"):
        writer.apply(spend("1", 3, "1.00", "sale:9"))


def test_at_a_lanes_start_rows_no_ticket_line_matches_are_released(db):
    kept = hq_holds.held(db, "1", 1, "H1", "wallet", D("10.00"), 51, D("0"), T0)
    orphan = hq_holds.held(db, "1", 2, "H1", "credit", D("4.00"), 52, D("0"), T0)
    other_lane = hq_holds.held(db, "2", 2, "H1", "credit", D("4.00"), 53, D("0"), T0)
    assert hq_holds.report(db, "1", [(1, "H1", "wallet", D("10.00"))]) == 1
    assert states(db)[kept][0] == "open" and states(db)[orphan][0] == "release"
    assert states(db)[other_lane][0] == "open"
    assert hq_holds.live(db) == {("1", 1), ("2", 2)}


def test_the_offline_allowance_through_the_store(db):
    limit = D("10.00")
    # Never seen: nothing offline.
    assert isinstance(hq_holds.take_offline(db, "1", 1, "H1", "wallet", D("1.00"), limit, T0), Refused)
    hq_holds.see(db, "H1", "wallet", D("8.00"), T0)
    hq_holds.see(db, "H1", "credit", D("50.00"), T0)
    a = hq_holds.take_offline(db, "1", 1, "H1", "wallet", D("6.00"), limit, T0 + dt.timedelta(minutes=1))
    assert isinstance(a, int)
    # The wallet seen at 8.00 has 2.00 left; the allowance (wallet and credit together) 4.00.
    short = hq_holds.take_offline(db, "2", 1, "H1", "wallet", D("3.00"), limit, T0 + dt.timedelta(minutes=2))
    assert isinstance(short, Refused) and short.details == {"available": "2.00", "short": "1.00"}
    b = hq_holds.take_offline(db, "2", 1, "H1", "credit", D("4.00"), limit, T0 + dt.timedelta(minutes=2))
    assert isinstance(b, int)
    over = hq_holds.take_offline(db, "2", 2, "H1", "credit", D("0.01"), limit, T0 + dt.timedelta(minutes=3))
    assert isinstance(over, Refused) and "allowance of 10.00 per customer has 0.00 left" in over.message
    # A line removed gives its allowance back; head office answering resets every allowance.
    hq_holds.gone(db, "2", [1])
    assert isinstance(hq_holds.take_offline(db, "2", 2, "H1", "credit", D("4.00"), limit, T0), int)
    assert hq_holds.reachable(db) == 2
    assert hq_holds.offline_state(db, "H1", "credit", limit).used == 0
    assert hq_holds.summary(db)["holds"] == {"open": 2, "held": 0, "offline": 3, "to_tell": 0, "offline_counted": 0}
