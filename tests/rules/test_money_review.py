"""Money properties over whole tickets (rules/lane.py with rules/payment.py): any lines
(sold, returned, meal-voucher eligible, a ticket discount), any sequence of payments in
any mode (cash with a rounding step, card, cheques in instalments, meal vouchers taken
or forfeited, a shop mode that gives change) and of payment lines removed, then finish.

Whenever the ticket finishes:
  - the payments less the change are the total plus the cash rounding, exactly, and the
    rounding is within half a step;
  - a mode that gives no change never pays more than the total (a sale), and the change
    never exceeds what the modes that give change paid;
  - a refund (negative total) gives no change and never takes out more than is owed;
  - what the drawer counts (rules/drawer.py ``sale_cash``) is what the Z closure counts
    for cash: the cash payments less the change, change given on a shop mode included.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from laneserver.rules import lane as rules
from laneserver.rules import payment as payments
from laneserver.rules.catalog import Article
from laneserver.rules.drawer import sale_cash
from laneserver.rules.outcome import Applied
from laneserver.rules.ticket import totals

D = Decimal
NOW = dt.datetime(2026, 1, 31, 10, 30, tzinfo=dt.UTC)
CHANGE_MODES = ("cash", "foreign_cash")
MODES = payments.BUILTIN_MODES + (payments.Mode("foreign_cash", "Euros", change=True),)
cents = st.integers(1, 30000).map(lambda n: D(n) / 100)


def _applied(state: rules.LaneState, command) -> rules.LaneState:
    result = rules.apply(state, command, now=NOW)
    return result.state if isinstance(result, Applied) else state


@settings(max_examples=300)
@given(data=st.data(), step=st.sampled_from([D("0.01"), D("0.05"), D("0.10"), D("1.00")]))
def test_a_finished_ticket_adds_up(data, step):
    policy = payments.Policy(cash_step=step, modes=MODES, meal_voucher_cap=D("19.00"))
    state = rules.LaneState(lane="1")
    for n in range(data.draw(st.integers(1, 4))):
        article = Article(id=f"A{n}", name=f"a{n}", price=data.draw(cents), vat_rate=D("20"),
                          meal_voucher=data.draw(st.booleans()))
        state = _applied(state, rules.AddLine("paul", article, D(data.draw(st.sampled_from([1, 2, 3, -1, -2])))))
    if data.draw(st.booleans()):
        state = _applied(state, rules.Discount(seller="paul", line=None, mode="add", reasons=(), reason=None,
                                               percent=data.draw(st.sampled_from([D(10), D(15), D("33.3")])),
                                               amount=None, cap=D(100), approved_by=None))
    for _ in range(data.draw(st.integers(1, 5))):
        mode = data.draw(st.sampled_from(["cash", "card", "cheque", "meal_voucher", "foreign_cash"]))
        balance = totals(state.ticket).balance
        amount = data.draw(st.none() | st.integers(-500, int(abs(balance) * 100) + 1000).map(lambda n: D(n) / 100))
        if amount is not None and balance < 0:
            amount = -abs(amount)
        state = _applied(state, rules.Pay(
            "paul", mode, amount, reference="TR 1" if mode == "meal_voucher" else None, policy=policy,
            approved_by="sophie", instalments=data.draw(st.sampled_from([None, 3])) if mode == "cheque" else None,
            excess=data.draw(st.sampled_from([None, "forfeit"])) if mode == "meal_voucher" else None))
        if state.ticket.payments and data.draw(st.integers(0, 9)) == 0:
            removed = data.draw(st.sampled_from(state.ticket.payments)).payment
            state = _applied(state, rules.RemovePayment("paul", removed))
    result = rules.apply(state, rules.Finish("paul"), now=NOW)
    if not isinstance(result, Applied):
        assert totals(state.ticket).balance != 0
        return
    sale = next(e for e in result.events if isinstance(e, rules.SaleCompleted))
    paid = sum((p.amount for p in sale.payments), D(0))
    assert paid - sale.change == sale.total + sale.rounding
    assert abs(sale.rounding) <= step / 2
    by_change_modes = sum((p.amount for p in sale.payments if p.mode in CHANGE_MODES), D(0))
    if sale.total >= 0:
        assert paid - by_change_modes <= sale.total
        assert sale.change <= max(by_change_modes, D(0))
    else:
        assert sale.change == 0
        assert all(p.amount <= 0 for p in sale.payments)
        assert paid >= sale.total + sale.rounding
    cash = sum((p.amount for p in sale.payments if p.mode == "cash"), D(0))
    drawn = sale_cash(sale.payments, sale.change)
    assert (drawn if drawn is not None else D(0)) == cash - sale.change


def test_an_orders_deposit_row_is_not_corrected():
    """A recalled order's deposit row (mode ``deposit``) is money taken with the order, in
    its deposit invoice and its lane's drawer then: corrected into cash, the sale's
    drawer would expect that cash a second time and the deposit account would not
    balance."""
    from laneserver.rules import corrections

    sale = corrections.SaleMoney(
        number=7, at="", lane="1", seller="paul", customer="C1", total=D("80.00"), paid=D("80.00"), change=D(0),
        rows=(corrections.Row(number=1, type="PAI", mode="deposit", amount=D("50.00"), reference="C-000001"),
              corrections.Row(number=2, type="PAI", mode="cash", amount=D("30.00"))))
    modes = ("cash", "card", "cheque")
    refusal = corrections.correct(sale, 1, mode="cash", amount=None, modes=modes)
    assert isinstance(refusal, corrections.Refused) and refusal.code == "conflict", refusal
    refusal = corrections.correct(sale, 1, mode=None, amount=D("40.00"), modes=(*modes, "deposit"))
    assert isinstance(refusal, corrections.Refused) and refusal.code == "conflict", refusal
    assert not isinstance(corrections.correct(sale, 2, mode="card", amount=None, modes=modes), corrections.Refused)


def test_a_payment_reference_is_bounded():
    """A payment's reference (a cheque's number, a voucher's code…) is chained with the
    sale's payment rows and printed on its receipt: a hostile one of 60 KB is refused,
    nothing changes."""
    article = Article(id="A", name="a", price=D("10.00"), vat_rate=D("20"))
    state = _applied(rules.LaneState(lane="1"), rules.AddLine("paul", article, D(1)))
    long = rules.apply(state, rules.Pay("paul", "cheque", None, reference="9" * (payments.MAX_REFERENCE + 1)), now=NOW)
    assert isinstance(long, rules.Refused) and long.code == "bad_request", long
    fits = rules.apply(state, rules.Pay("paul", "cheque", None, reference="9" * payments.MAX_REFERENCE), now=NOW)
    assert isinstance(fits, Applied)


def test_a_debt_paid_later_in_cash_rounds_as_a_payment_does():
    """A debt paid later in cash rounds to the shop's cash step as ``pay`` does: 12.32 due
    in a shop of 0.05 steps is 12.30 in cash, with a rounding row of 0.02 that settles it
    (the rows still add up to total + change); 12.32 in cash, which no coin makes, was
    taken as it was."""
    from laneserver.rules import corrections

    step, modes = D("0.05"), ("cash", "card")
    owed = corrections.SaleMoney(number=7, at="", lane="1", seller="paul", customer="C1", total=D("12.32"),
                                 paid=D(0), change=D(0))
    rows = corrections.pay_later(owed, mode="cash", amount=None, modes=modes, step=step)
    assert rows == (corrections.NewRow(type="PAI", mode="cash", amount=D("12.30")),
                    corrections.NewRow(type="PAI", mode="rounding", amount=D("0.02")))
    assert sum((r.amount for r in rows), D(0)) == owed.due
    assert corrections.pay_later(owed, mode="cash", amount=D("12.30"), modes=modes, step=step) == rows
    for amount in ("12.32", "12.35", "12.31"):  # more than is due in cash: a debt gives no change
        refusal = corrections.pay_later(owed, mode="cash", amount=D(amount), modes=modes, step=step)
        assert isinstance(refusal, corrections.Refused) and refusal.code == "bad_request", (amount, refusal)
        assert refusal.details == {"balance": "12.32", "payable": "12.30"}
    # Rounded up: 12.33 is 12.35 in cash; 12.33 or 12.34 cover the debt, not what is due in cash.
    up = msgspec.structs.replace(owed, total=D("12.33"))
    assert corrections.pay_later(up, mode="cash", amount=None, modes=modes, step=step) == (
        corrections.NewRow(type="PAI", mode="cash", amount=D("12.35")),
        corrections.NewRow(type="PAI", mode="rounding", amount=D("-0.02")))
    refusal = corrections.pay_later(up, mode="cash", amount=D("12.33"), modes=modes, step=step)
    assert isinstance(refusal, corrections.Refused) and "12.35 in cash" in refusal.message
    # A part is not rounded; card never is; a debt under half a step is settled by the rounding alone.
    assert corrections.pay_later(owed, mode="cash", amount=D("5.01"), modes=modes, step=step) == (
        corrections.NewRow(type="PAI", mode="cash", amount=D("5.01")),)
    assert corrections.pay_later(owed, mode="card", amount=None, modes=modes, step=step) == (
        corrections.NewRow(type="PAI", mode="card", amount=D("12.32")),)
    small = msgspec.structs.replace(owed, total=D("0.02"))
    assert corrections.pay_later(small, mode="cash", amount=None, modes=modes, step=step) == (
        corrections.NewRow(type="PAI", mode="rounding", amount=D("0.02")),)


def test_a_top_up_goes_back_at_most_as_each_mode_paid_it():
    """A sale's top-up is given back in one of the modes that paid the sale, one that paid
    at least the top-up: a top-up of 100.00 paid 99.99 by card and 0.01 in cash does not
    come back as 100.00 in cash (the cashier could pick any mode that paid a part)."""
    from laneserver.rules import corrections

    def sale(*rows, change="0.00", topup="100.00"):
        return corrections.SaleMoney(
            number=7, at="", lane="1", seller="paul", customer="C1", total=D(topup), paid=D(topup), change=D(change),
            topup=D(topup), rows=tuple(corrections.Row(number=n, type=t, mode=m, amount=D(a))
                                       for n, (t, m, a) in enumerate(rows, start=1)))

    not_money = ("credit", "wallet", "voucher", "meal_voucher")
    mixed = sale(("PAI", "card", "100.00"), ("PAI", "cash", "0.01"))  # 0.01 of goods with it
    refusal = corrections.topup_give_back(mixed, "cash", not_money)
    assert isinstance(refusal, corrections.Refused) and refusal.code == "conflict"
    assert refusal.details == {"field": "mode", "modes": ["card"], "payable": "0.01"}
    assert corrections.topup_give_back(mixed, "card", not_money) == "card"
    # 99.99 by card and 0.01 in cash: no mode alone paid it (a ticket's top-up cancel line
    # is refunded in several modes).
    split = sale(("PAI", "card", "99.99"), ("PAI", "cash", "0.01"))
    for mode in ("cash", "card"):
        refusal = corrections.topup_give_back(split, mode, not_money)
        assert isinstance(refusal, corrections.Refused) and refusal.details["modes"] == [], refusal
    # Each mode net: a cash row corrected to card paid nothing in cash; the change is cash's.
    corrected = sale(("PAI", "cash", "100.00"), ("ANL", "cash", "-100.00"), ("MAJ", "card", "100.00"))
    assert corrections.topup_give_back(corrected, None, not_money) == "card"
    changed = sale(("PAI", "foreign_cash", "100.00"), ("PAI", "cash", "20.00"), change="20.00")
    assert corrections.topup_give_back(changed, None, not_money) == "foreign_cash"
    halves = sale(("PAI", "card", "50.00"), ("PAI", "cash", "50.00"))
    refusal = corrections.topup_give_back(halves, "cash", not_money)
    assert isinstance(refusal, corrections.Refused) and refusal.details["modes"] == []


def test_a_refund_row_is_corrected_with_the_checks_mirrored():
    """A refund (an AVO row, negative) refunded "in cash" when it was by card is put right
    as a payment is: an ANL and a MAJ; its amount stays negative and settles what was
    owed, and it goes to no mode a refund is never made in."""
    from laneserver.rules import corrections

    refund = corrections.SaleMoney(number=8, at="", lane="1", seller="paul", customer=None, total=D("-30.00"),
                                   paid=D("-30.00"), change=D(0),
                                   rows=(corrections.Row(number=1, type="AVO", mode="cash", amount=D("-30.00")),))
    modes = ("cash", "card", "meal_voucher", "wallet")
    assert corrections.correct(refund, 1, mode="card", amount=None, modes=modes) == (
        corrections.NewRow(type="ANL", mode="cash", amount=D("30.00"), refers=1),
        corrections.NewRow(type="MAJ", mode="card", amount=D("-30.00"), refers=1))
    for mode, amount, code in [("meal_voucher", None, "bad_request"), ("wallet", None, "conflict"),
                               (None, D("30.00"), "bad_request"), (None, D("-30.01"), "bad_request"),
                               (None, D("-29.99"), "conflict"), ("cash", None, "bad_request")]:
        refusal = corrections.correct(refund, 1, mode=mode, amount=amount, modes=modes)
        assert isinstance(refusal, corrections.Refused) and refusal.code == code, (mode, amount, refusal)


def test_a_shop_mode_payment_that_gave_change_keeps_its_mode():
    """Euros taken at a franc till (a shop mode with change = true) gave 20.00 of change:
    corrected into a card, the card would have given change; only cash was guarded."""
    from laneserver.rules import corrections

    sale = corrections.SaleMoney(
        number=7, at="", lane="1", seller="paul", customer=None, total=D("30.00"), paid=D("50.00"), change=D("20.00"),
        rows=(corrections.Row(number=1, type="PAI", mode="foreign_cash", amount=D("50.00")),))
    modes, change_modes = ("cash", "card", "foreign_cash"), ("cash", "foreign_cash")
    refusal = corrections.correct(sale, 1, mode="card", amount=None, modes=modes, change_modes=change_modes)
    assert isinstance(refusal, corrections.Refused) and refusal.code == "conflict", refusal
    assert "foreign_cash payment of payment 1 gave 20.00 change" in refusal.message
