"""The shop's hold rows (store/hq_holds.py) on a real SQLite file, written as the journal
writes them: a row leaves ``open`` once, settled by the sale's unit or released, never
both; the offline allowance through the store (decided and written in one step, reset
when head office answers); a spend head office held may take the shop's own sum below
zero, one it did not may not; a sale's top-up cancel held at head office is settled in
the sale's own unit."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
import trio

from laneserver.actors.journal import CommitFailed, JournalActor, commit, read
from laneserver.actors.runtime import open_mailbox
from laneserver.rules.customers import Customer
from laneserver.rules.lane import SaleCompleted
from laneserver.rules.outcome import Refused
from laneserver.rules.ticket import Line, Payment, vat_breakdown
from laneserver.store import hq_holds, schema
from laneserver.store.ops import MoveAccount, PutCustomer, RecordSale
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
    # A line removed gives its allowance back; head office answering does not reset the
    # lines still on tickets (not written: head office cannot hold them).
    hq_holds.gone(db, "2", [1])
    assert isinstance(hq_holds.take_offline(db, "2", 2, "H1", "credit", D("4.00"), limit, T0), int)
    assert hq_holds.reachable(db, 0) == 2
    assert hq_holds.offline_state(db, "H1", "credit", limit).used == D("10.00")
    assert hq_holds.summary(db)["holds"] == {"open": 2, "held": 0, "offline": 3, "to_tell": 0, "offline_counted": 2}


def _offline_sale(db, writer, payment: int, account: str, amount: str, ref: str, at: dt.datetime) -> None:
    row = hq_holds.take_offline(db, "1", payment, "H1", account, D(amount), D("30.00"), at)
    assert isinstance(row, int), row
    writer.apply(MoveAccount(at=at, customer="H1", account=account, delta=-D(amount), kind="spend", lane="1",
                             payment=payment, ref=ref))


def _account_end(db) -> int:
    return db.execute("SELECT coalesce(max(number), 0) FROM fiscal_records WHERE chain='account'").fetchone()[0]


def test_the_allowance_resets_only_once_head_office_holds_the_offline_spends(db):
    writer = Writer(db)
    writer.apply(PutCustomer(customer=Customer(customer="H1", name="Jeanne", wallet_enabled=True), at=T0))
    hq_holds.see(db, "H1", "wallet", D("100.00"), T0, up_to=_account_end(db))
    _offline_sale(db, writer, 1, "wallet", "20.00", "sale:1", T0 + dt.timedelta(minutes=1))
    shipped = _account_end(db)
    _offline_sale(db, writer, 2, "wallet", "7.00", "sale:2", T0 + dt.timedelta(minutes=2))
    state = hq_holds.offline_state(db, "H1", "wallet", D("30.00"))
    assert (state.used, state.spent_since_seen) == (D("27.00"), D("27.00"))
    # Head office answers holding nothing of the shop's account chain: both still count.
    assert hq_holds.reachable(db, 0) == 2
    # It answers holding the first spend only: the second still counts (never granted again).
    assert hq_holds.reachable(db, shipped) == 1
    assert hq_holds.offline_state(db, "H1", "wallet", D("30.00")).used == D("7.00")
    # Seen again, holding both: nothing counts, the balance seen is head office's own.
    hq_holds.see(db, "H1", "wallet", D("73.00"), T0 + dt.timedelta(minutes=3), up_to=_account_end(db))
    assert hq_holds.reachable(db, _account_end(db)) == 0
    state = hq_holds.offline_state(db, "H1", "wallet", D("30.00"))
    assert (state.used, state.spent_since_seen, state.topped_up) == (0, 0, 0)


def test_a_top_up_made_offline_raises_what_may_be_spent_offline(db):
    writer = Writer(db)
    writer.apply(PutCustomer(customer=Customer(customer="H1", name="Jeanne", wallet_enabled=True), at=T0))
    hq_holds.see(db, "H1", "wallet", D("50.00"), T0, up_to=_account_end(db))
    # Offline: 10.00 topped up here (not at head office), then 35.00 spent: past the
    # 30.00 allowance by what the customer put on the account here.
    writer.apply(MoveAccount(at=T0, customer="H1", account="wallet", delta=D("10.00"), kind="topup", mode="cash",
                             ref="topup:1"))
    state = hq_holds.offline_state(db, "H1", "wallet", D("30.00"))
    assert state.topped_up == D("10.00")
    _offline_sale(db, writer, 1, "wallet", "35.00", "sale:1", T0 + dt.timedelta(minutes=1))
    refused = hq_holds.take_offline(db, "1", 2, "H1", "wallet", D("5.01"), D("30.00"), T0 + dt.timedelta(minutes=2))
    assert isinstance(refused, Refused) and refused.details == {"available": "5.00", "short": "0.01"}
    assert "with 10.00 topped up here" in refused.message
    # The till's figure without head office: 50.00 seen + 10.00 - 35.00.
    figure, at = hq_holds.cached(db, "H1")["wallet"]
    assert (figure.balance, figure.available, at) == (D("25.00"), D("25.00"), T0)
    assert "credit" not in hq_holds.cached(db, "H1")
    # Head office answers, holding all of it: the figure it says is its own now.
    noted = hq_holds.noted(db, "H1", {"credit": D("0"), "wallet": D("25.00")}, _account_end(db),
                           T0 + dt.timedelta(minutes=5))
    assert noted == hq_holds.Noted({"credit": D("0"), "wallet": D("0")}, {"credit": D("0"), "wallet": D("0")}, 0)
    state = hq_holds.offline_state(db, "H1", "wallet", D("30.00"))
    assert (state.used, state.topped_up, state.spent_since_seen, state.seen.available) == (0, 0, 0, D("25.00"))


def _sale_cancelling_a_top_up(hold: int, *more: MoveAccount) -> RecordSale:
    """A sale (8.90 of wine, a 5.00 top-up cancelled on the ticket, 3.90 in cash) whose
    top-up cancel carries head office's ``hold``, as the customers actor settles it."""
    lines = (Line(line=1, article="A1", name="Vin", qty=D(1), unit_price=D("8.90"), vat_rate=D(20)),
             Line(line=2, article=None, name="Recharge annulée", qty=D(-1), unit_price=D("5.00"), vat_rate=D(0),
                  topup="wallet"))
    sale = SaleCompleted(lane="1", seller="marie", customer="H1", at=T0, lines=lines, vat=vat_breakdown(lines),
                         total=D("3.90"), paid=D("3.90"), change=D(0),
                         payments=(Payment(payment=1, mode="cash", amount=D("3.90")),))
    cancel = MoveAccount(at=T0, customer="H1", account="wallet", delta=-D("5.00"), kind="topup_cancel", mode="cash",
                         lane="1", hold=hold)
    return RecordSale(sale=sale, stock_point="main", takes=(("A1", D(1)),), customer_moves=(cancel, *more))


async def test_a_top_up_cancel_held_at_head_office_is_settled_in_its_sales_unit_or_not_at_all(tmp_path):
    """The hold a sale's top-up cancel carries becomes a row ``settle`` with the record's
    ``kind|ref`` (the sale's number, known only in the unit) in the sale's own unit: a
    sale written is a settle to tell (on the disk, told after a restart), a sale not
    written (its unit failed) leaves no row."""
    path = tmp_path / "shop.sqlite3"
    journal, inbox = open_mailbox("journal", 16)
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            await nursery.start(JournalActor(path).run, inbox)
            await commit(journal, PutCustomer(customer=Customer(customer="H1", name="Jeanne", wallet_enabled=True),
                                              at=T0),
                         MoveAccount(at=T0, customer="H1", account="wallet", delta=D("20.00"), kind="topup",
                                     mode="cash", ref="topup:1"))
            # The unit fails after the held movement (a spend nothing covers): no row, no sale.
            uncovered = MoveAccount(at=T0, customer="H1", account="wallet", delta=-D("99.00"), kind="spend",
                                    lane="1")
            with pytest.raises(CommitFailed):
                await commit(journal, _sale_cancelling_a_top_up(71, uncovered))
            [recorded] = await commit(journal, _sale_cancelling_a_top_up(72))
            assert [(r.hold, r.state, r.ref) for r in await read(journal, hq_holds.to_tell)] == [
                (72, "settle", f"topup_cancel|sale:{recorded.number}")]
            assert await read(journal, hq_holds.unsettled) == [72]  # renewed until told
            journal.close()
    db = schema.connect(path)
    try:
        assert db.execute("SELECT lane, payment, customer, account, amount, hold, state FROM hq_holds").fetchall() == [
            ("1", 0, "H1", "wallet", "5.00", 72, "settle")]
        assert db.execute("SELECT count(*) FROM sales").fetchone() == (1,)
        # A held movement with no ref is a bug (its hold could never be matched): the unit fails.
        with pytest.raises(ValueError, match="needs a ref"):
            Writer(db).apply(MoveAccount(at=T0, customer="H1", account="wallet", delta=-D("1.00"),
                                         kind="topup_cancel", hold=73))
    finally:
        db.close()
