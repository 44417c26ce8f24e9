"""Till money after the sale, pure (rules/corrections.py), and finishing unpaid (rules/lane.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from laneserver.rules import corrections as c
from laneserver.rules import lane
from laneserver.rules.catalog import Article

D = Decimal
MODES = ("cash", "card", "cheque", "credit", "wallet", "voucher")
NOW = dt.datetime(2026, 3, 1, 10, tzinfo=dt.timezone.utc)


def _sale(total="40.00", change="0.00", rows=((1, "PAI", "cheque", "40.00"),), customer=None, **kw) -> c.SaleMoney:
    return c.SaleMoney(number=7, at="", lane="1", seller="paul", customer=customer, total=D(total), paid=D(total),
                       change=D(change), rows=tuple(c.Row(number=n, type=t, mode=m, amount=D(a))
                                                    for n, t, m, a in rows), **kw)


def _apply(sale: c.SaleMoney, rows: tuple[c.NewRow, ...], first: int = 100) -> c.SaleMoney:
    added = tuple(c.Row(number=first + i, type=r.type, mode=r.mode, amount=r.amount, refers=r.refers)
                  for i, r in enumerate(rows))
    return c.SaleMoney(**{**{f: getattr(sale, f) for f in sale.__struct_fields__}, "rows": sale.rows + added})


def test_a_correction_is_an_annulment_and_a_new_row():
    sale = _sale()
    rows = c.correct(sale, 1, mode="card", amount=None, modes=MODES)
    assert rows == (c.NewRow(type="ANL", mode="cheque", amount=D("-40.00"), refers=1),
                    c.NewRow(type="MAJ", mode="card", amount=D("40.00"), refers=1))
    after = _apply(sale, rows)
    assert c.statuses(after.rows) == {1: "ANNUL", 100: "ANL", 101: "MAJ"}
    assert after.due == 0
    again = c.correct(after, 1, mode="cash", amount=None, modes=MODES)
    assert isinstance(again, c.Refused) and again.code == "conflict"
    assert not isinstance(c.correct(after, 101, mode="cash", amount=None, modes=MODES), c.Refused)


def test_what_a_correction_refuses():
    sale = _sale()
    cases = [
        (dict(payment=9, mode="card", amount=None), "not_found"),
        (dict(payment=1, mode=None, amount=None), "bad_request"),
        (dict(payment=1, mode="bitcoin", amount=None), "not_supported"),
        (dict(payment=1, mode="credit", amount=None), "conflict"),
        (dict(payment=1, mode="cheque", amount=None), "bad_request"),
        (dict(payment=1, mode=None, amount=D("0")), "bad_request"),
        (dict(payment=1, mode=None, amount=D("40.01")), "bad_request"),
        (dict(payment=1, mode=None, amount=D("30.00")), "conflict"),  # a debt, but no customer
    ]
    for fields, code in cases:
        refused = c.correct(sale, modes=MODES, **fields)
        assert isinstance(refused, c.Refused) and refused.code == code, (fields, refused)
    with_change = _sale(change="10.00", rows=((1, "PAI", "cash", "50.00"),))
    refused = c.correct(with_change, 1, mode="card", amount=None, modes=MODES)
    assert isinstance(refused, c.Refused) and "gave 10.00 change" in refused.message
    rounding = _sale(rows=((1, "PAI", "cash", "40.00"), (2, "PAI", "rounding", "0.00")))
    assert isinstance(c.correct(rounding, 2, mode="card", amount=None, modes=MODES), c.Refused)
    lowered = c.correct(_sale(customer="C1"), 1, mode=None, amount=D("30.00"), modes=MODES)
    assert not isinstance(lowered, c.Refused) and _apply(_sale(customer="C1"), lowered).due == D("10.00")


def test_a_cancel_reverses_what_stands_and_gives_the_money_back():
    sale = _sale(total="20.00", change="30.00", rows=((1, "PAI", "credit", "20.00"), (2, "PAI", "cash", "30.00")))
    rows = c.cancel(sale)
    assert isinstance(rows, tuple)
    assert [(r.type, r.mode, r.amount, r.refers) for r in rows] == [
        ("ANL", "credit", D("-20.00"), 1), ("ANL", "cash", D("-30.00"), 2)]
    assert c.given_back(rows, sale.change) == {"credit": D("20.00")}  # the cash paid was all change
    done = c.SaleMoney(**{**{f: getattr(sale, f) for f in sale.__struct_fields__}, "cancelled_by": 8})
    assert isinstance(c.cancel(done), c.Refused)
    counter = c.SaleMoney(**{**{f: getattr(sale, f) for f in sale.__struct_fields__}, "cancels": 3})
    assert isinstance(c.cancel(counter), c.Refused)


def test_a_cancel_after_a_correction_reverses_the_correction_not_the_original():
    sale = _sale()
    after = _apply(sale, c.correct(sale, 1, mode="card", amount=None, modes=MODES))
    rows = c.cancel(after)
    assert [(r.mode, r.amount, r.refers) for r in rows] == [("card", D("-40.00"), 101)]
    assert c.given_back(rows, D(0)) == {"card": D("40.00")}


@given(st.lists(st.integers(min_value=1, max_value=5000), min_size=1, max_size=4),
       st.integers(min_value=0, max_value=3000))
def test_rows_add_up_and_a_cancel_nets_to_nothing(parts, unpaid_cents):
    """Every row counts: rows = total + change − due; the counter-entry nets the sale to zero."""
    amounts = [D(p) / 100 for p in parts]
    total = sum(amounts, D(0)) + D(unpaid_cents) / 100
    sale = _sale(total=str(total), rows=tuple((i + 1, "PAI", "card", str(a)) for i, a in enumerate(amounts)),
                 customer="C1")
    assert sale.due == D(unpaid_cents) / 100
    if sale.due > 0:
        paid = _apply(sale, c.pay_later(sale, mode="cash", amount=None, modes=MODES))
        assert paid.due == 0
        assert isinstance(c.pay_later(paid, mode="cash", amount=None, modes=MODES), c.Refused)
        abandoned = _apply(sale, (c.abandon(sale),))
        assert abandoned.due == 0 and abandoned.rows[-1].type == "ABD"
    rows = c.cancel(sale)
    assert sum((r.amount for r in rows), D(0)) == -sale.settled


def test_pay_later_and_abandon_refusals():
    sale = _sale(total="40.00", rows=((1, "PAI", "cash", "5.00"),), customer="C1")
    assert sale.due == D("35.00")
    for fields, code in [(dict(mode="card", amount=D("35.01")), "bad_request"),
                         (dict(mode="card", amount=D("-1")), "bad_request"),
                         (dict(mode="wallet", amount=None), "not_supported"),
                         (dict(mode="rounding", amount=None), "not_supported")]:
        refused = c.pay_later(sale, modes=MODES + ("rounding",), **fields)
        assert isinstance(refused, c.Refused) and refused.code == code, (fields, refused)
    assert c.pay_later(sale, mode="card", amount=D("20.00"), modes=MODES) == (c.NewRow(type="PAI", mode="card",
                                                                                    amount=D("20.00")),)
    assert isinstance(c.abandon(_sale()), c.Refused)
    assert c.check_reason("  ") == c.Refused("bad_request", "a reason is required")
    assert c.check_reason(" gone ") == "gone"


# --- finishing unpaid (rules/lane.py) ----------------------------------------------------

ARTICLE = Article(id="T10", name="Article à 10", price=D("10.00"), vat_rate=D(20))


def _ticket(customer: str | None) -> lane.LaneState:
    state = lane.LaneState(lane="1")
    state = lane.apply(state, lane.AddLine("paul", ARTICLE, D(1)), now=NOW).state
    state = lane.apply(state, lane.Pay("paul", "cash", D("4.00")), now=NOW).state
    if customer is not None:
        state = lane.apply(state, lane.SetCustomer("paul", customer), now=NOW).state
    return state


def test_finish_unpaid():
    refused = lane.apply(_ticket("C1"), lane.Finish("paul", unpaid=True), now=NOW)
    assert isinstance(refused, lane.Refused) and refused.code == "not_supported"
    refused = lane.apply(_ticket(None), lane.Finish("paul", unpaid=True, deferred=True), now=NOW)
    assert isinstance(refused, lane.Refused) and refused.code == "conflict"
    refused = lane.apply(_ticket("C1"), lane.Finish("paul", deferred=True), now=NOW)
    assert isinstance(refused, lane.Refused) and refused.code == "balance_not_zero"
    done = lane.apply(_ticket("C1"), lane.Finish("paul", unpaid=True, deferred=True), now=NOW)
    assert isinstance(done, lane.Applied)
    [sale] = [e for e in done.events if isinstance(e, lane.SaleCompleted)]
    assert (sale.total, sale.paid, sale.change, sale.due, sale.customer) == (D("10.00"), D("4.00"), D(0), D("6.00"), "C1")
    assert done.state.ticket.is_empty
